package redact

import "testing"

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"--duration=4s", "--duration=4s"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://:s3cret@host:6379/0", "redis://:xxxxx@host:6379/0"},
		{"rediss://user:s3cret@host/1?prefix=aft:", "rediss://user:xxxxx@host/1?prefix=aft:"},
		{"redis://user@host", "redis://user@host"},
		{"s3://bucket/p?endpoint=http://AKIA:s3cret@127.0.0.1:9000", "s3://bucket/p?endpoint=http%3A%2F%2FAKIA%3Axxxxx%40127.0.0.1%3A9000"},
		{"dynamodb://t?region=us-east-1&secret_key=s3cret", "dynamodb://t?region=us-east-1&secret_key=xxxxx"},
		{"mem://x?token=s3cret&a=b", "mem://x?a=b&token=xxxxx"},
		{"redis://:s3cret@host:port x/0", "redis://xxxxx@host:port x/0"},
		{"dynamodb://t?a=%zz&s3cret", "dynamodb://t?xxxxx"},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestText(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"no URL", "dial tcp: refused", "dial tcp: refused"},
		{"error text", "redis: dial redis://:s3cret@h:6379/0: refused", "redis: dial redis://:xxxxx@h:6379/0: refused"},
		{"quoted", `open store "redis://u:s3cret@h/0": no`, `open store "redis://xxxxx@h/0": no`},
		{"command line", "aft bench --store redis://u:s3cret@h:6379/0 --out x", "aft bench --store redis://u:xxxxx@h:6379/0 --out x"},
		{"two URLs and line breaks", "a redis://:p1@h\n\tb rediss://u:p2@h/1 c", "a redis://:xxxxx@h\n\tb rediss://u:xxxxx@h/1 c"},
		{"no secret", "shim on http://127.0.0.1:7654 up", "shim on http://127.0.0.1:7654 up"},
		{"white space kept", "  x  y \n", "  x  y \n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
