package s3

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		want    Options
		wantErr string // part of the error; "" for none
	}{
		{url: "s3://bucket", want: Options{Bucket: "bucket"}},
		{url: "s3://bucket/", want: Options{Bucket: "bucket"}},
		{url: "s3://bucket/shim", want: Options{Bucket: "bucket", Prefix: "shim/"}},
		{url: "s3://bucket/a/b/", want: Options{Bucket: "bucket", Prefix: "a/b/"}},
		{url: "s3://my.bucket-1/p?region=eu-west-1", want: Options{Bucket: "my.bucket-1", Prefix: "p/", Region: "eu-west-1"}},
		{
			url:  "s3://aft-e2e/shim?region=us-east-1&endpoint=http://127.0.0.1:9000&path-style=true",
			want: Options{Bucket: "aft-e2e", Prefix: "shim/", Region: "us-east-1", Endpoint: "http://127.0.0.1:9000", PathStyle: true},
		},
		{url: "s3://b0b?endpoint=https%3A%2F%2Fminio.local%3A9000&path-style=false", want: Options{Bucket: "b0b", Endpoint: "https://minio.local:9000"}},
		{url: "s3://b0b?path-style=1", want: Options{Bucket: "b0b", PathStyle: true}},

		{url: "s3://", wantErr: "bucket name"},
		{url: "s3:///prefix", wantErr: "bucket name"},
		{url: "s3://ab", wantErr: "3 to 63"},
		{url: "s3://" + strings.Repeat("b", 64), wantErr: "3 to 63"},
		{url: "s3://Bucket", wantErr: "lower-case"},
		{url: "s3://bucket_x", wantErr: "lower-case"},
		{url: "s3://-bucket", wantErr: "first and last"},
		{url: "s3://bucket.", wantErr: "first and last"},
		{url: "s3://a..b", wantErr: "two dots"},
		{url: "s3://192.168.1.1", wantErr: "IP address"},
		{url: "s3://bucket:9000/p", wantErr: "want s3://BUCKET"},
		{url: "s3://user@bucket/p", wantErr: "want s3://BUCKET"},
		{url: "s3:bucket", wantErr: "want s3://BUCKET"},
		{url: "s3://bucket/p#frag", wantErr: "want s3://BUCKET"},
		{url: "s3://bucket//p", wantErr: "empty"},
		{url: "s3://bucket/a/../b", wantErr: "segment"},
		{url: "s3://bucket/a/./b", wantErr: "segment"},
		{url: "s3://bucket/a%20b", wantErr: "A-Za-z0-9"},
		{url: "s3://bucket/a!b", wantErr: "A-Za-z0-9"},
		{url: "s3://bucket/" + strings.Repeat("p/", 129), wantErr: "at most 256"},
		{url: "s3://bucket?path-style=yes", wantErr: "path-style"},
		{url: "s3://bucket?endpoint=localhost:9000", wantErr: "endpoint"},
		{url: "s3://bucket?endpoint=ftp://host", wantErr: "endpoint"},
		{url: "s3://bucket?endpoint=http://", wantErr: "endpoint"},
		{url: "s3://bucket?regoin=us-east-1", wantErr: "unknown parameter \"regoin\""},
		{url: "s3://bucket?region=a&region=b", wantErr: "2 times"},
		{url: "s3://bucket?a=%zz", wantErr: "query"},
		{url: "mem://bucket", wantErr: "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseURL(u)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ParseURL: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("ParseURL: got (%+v, %v), want an error containing %q", got, err, tt.wantErr)
			case tt.wantErr != "" && !errors.Is(err, ErrBadOptions):
				t.Fatalf("ParseURL: %v does not wrap ErrBadOptions", err)
			case got != tt.want:
				t.Fatalf("ParseURL: got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOptionsString(t *testing.T) {
	tests := []struct {
		o    Options
		want string
	}{
		{Options{Bucket: "b", Prefix: "p/", Endpoint: "http://127.0.0.1:9000"}, "s3 bucket b prefix p/ at http://127.0.0.1:9000"},
		{Options{Bucket: "b", Region: "eu-west-1"}, "s3 bucket b at AWS region eu-west-1"},
		{Options{Bucket: "b"}, "s3 bucket b at AWS"},
	}
	for _, tt := range tests {
		if got := tt.o.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.o, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"minimal", Options{Bucket: "bkt"}, true},
		{"prefix without slash", Options{Bucket: "bkt", Prefix: "p"}, false},
		{"prefix with leading slash", Options{Bucket: "bkt", Prefix: "/p/"}, false},
		{"negative limit", Options{Bucket: "bkt", MaxValueSize: -1}, false},
		{"limit", Options{Bucket: "bkt", MaxValueSize: 10}, true},
	}
	for _, tt := range tests {
		if err := tt.o.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

func TestIsLocal(t *testing.T) {
	tests := []struct {
		endpoint string
		want     bool
	}{
		{"http://127.0.0.1:9000", true},
		{"http://127.0.0.2", true},
		{"http://localhost:9000", true},
		{"https://[::1]:9000", true},
		{"http://10.0.0.1:9000", false},
		{"https://minio.example.com", false},
		{"https://localhost.example.com", false},
	}
	for _, tt := range tests {
		if got := isLocal(tt.endpoint); got != tt.want {
			t.Errorf("isLocal(%q) = %v, want %v", tt.endpoint, got, tt.want)
		}
	}
}
