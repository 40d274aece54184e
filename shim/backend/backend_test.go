package backend

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestCheckAndOpen(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"mem://", true},
		{"ftp://x", false},
		{"%zz", false},
		{"no-scheme", false},
	}
	for _, tt := range tests {
		err := Check(tt.url)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrBadURL)) {
			t.Errorf("Check(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
	dir := t.TempDir()
	for _, u := range []string{"", "mem://"} {
		s, desc, err := Open(context.Background(), u, Options{DataDir: dir})
		if err != nil || desc == "" {
			t.Fatalf("Open(%q) = %q, %v", u, desc, err)
		}
		s.Close()
	}
}

func TestBadURLHidesPassword(t *testing.T) {
	for _, u := range []string{"ftp://user:s3cret@host/x", "redis://:s3cret@host:6379/notanumber", "redis://:s3cret@host:port/0"} {
		if err := Check(u); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Check(%q) = %v: want an error without the password", u, err)
		}
	}
}

func TestBadS3EndpointHidesSecret(t *testing.T) {
	u := "s3://bucket/p?endpoint=http://AKIA:s3cret@127.0.0.1:9000"
	if err := Check(u); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Check(%q) = %v: want an error without the secret", u, err)
	}
}
