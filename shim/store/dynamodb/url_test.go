package dynamodb

import (
	"net/url"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want Options
		err  string // part of the error; "" for none
	}{
		{"dynamodb://aft", Options{Table: "aft"}, ""},
		{"dynamodb://aft/", Options{Table: "aft"}, ""},
		{"dynamodb://My_Table.v-2?region=eu-west-1", Options{Table: "My_Table.v-2", Region: "eu-west-1"}, ""},
		{"dynamodb://aft-e2e?region=us-east-1&endpoint=http://127.0.0.1:8000",
			Options{Table: "aft-e2e", Region: "us-east-1", Endpoint: "http://127.0.0.1:8000"}, ""},
		{"dynamodb://aft?endpoint=http%3A%2F%2Flocalhost%3A8000%2F", Options{Table: "aft", Endpoint: "http://localhost:8000"}, ""},
		{"dynamodb://aft?endpoint=https://vpce-1.dynamodb.us-east-1.vpce.amazonaws.com",
			Options{Table: "aft", Endpoint: "https://vpce-1.dynamodb.us-east-1.vpce.amazonaws.com"}, ""},

		{"dynamodb://", Options{}, "no table"},
		{"dynamodb:///aft", Options{}, "no table"},
		{"dynamodb:aft", Options{}, "want dynamodb://TABLE"},
		{"dynamodb://ab", Options{}, "3 to 255"},
		{"dynamodb://aft:8000", Options{}, "no port"},
		{"dynamodb://key:secret@aft", Options{}, "no user information"},
		{"dynamodb://aft/extra", Options{}, "unexpected path"},
		{"dynamodb://aft#x", Options{}, "unexpected fragment"},
		{"dynamodb://aft?region=", Options{}, "empty region"},
		{"dynamodb://aft?region=US_EAST", Options{}, "want a name such as us-east-1"},
		{"dynamodb://aft?region=us-east-1&region=us-west-2", Options{}, "given 2 times"},
		{"dynamodb://aft?endpoint=127.0.0.1:8000", Options{}, "want an http:// or https:// URL"},
		{"dynamodb://aft?endpoint=ftp://host", Options{}, "want an http:// or https:// URL"},
		{"dynamodb://aft?endpoint=http://", Options{}, "want an http:// or https:// URL"},
		{"dynamodb://aft?endpoint=http://h:1?x=1", Options{}, "want only scheme, host, port and path"},
		{"dynamodb://aft?create=true", Options{}, `unknown parameter "create"`},
		{"dynamodb://aft?region=us-east-1;x", Options{}, "query"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatalf("url.Parse: %v", err)
			}
			got, err := ParseURL(u)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("ParseURL: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("ParseURL: got %+v, %v; want an error saying %q", got, err, tt.err)
			case tt.err == "" && got != tt.want:
				t.Fatalf("ParseURL: got %+v, want %+v", got, tt.want)
			}
		})
	}
}
