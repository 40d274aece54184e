package miniotest

import (
	"os"
	"strings"
	"testing"
)

// TestVersionMatchesScript checks that the tests look for the MinIO that make deps builds.
func TestVersionMatchesScript(t *testing.T) {
	const script = "../../../../scripts/deps/minio.sh"
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	want := `MINIO_VERSION="` + Version + `"`
	if !strings.Contains(string(b), "\n"+want+"\n") {
		t.Fatalf("%s does not set %s", script, want)
	}
}

func TestBinary(t *testing.T) {
	tests := []struct {
		name, minio, cache, want string
	}{
		{"explicit", "/opt/minio", "/c", "/opt/minio"},
		{"cache", "", "/c", "/c/minio/" + Version + "/minio"},
	}
	for _, tt := range tests {
		t.Setenv("AFT_MINIO", tt.minio)
		t.Setenv("AFT_CACHE", tt.cache)
		if got := Binary(); got != tt.want {
			t.Errorf("%s: Binary() = %s, want %s", tt.name, got, tt.want)
		}
	}
}
