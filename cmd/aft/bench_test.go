package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aft-shim/aft/shim/shimtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	shimtest.RemoveAftBinary()
	os.Exit(code)
}

// secrets are planted in the store URLs below; none may reach a report or a printed line.
var secrets = []string{"pw-s3cret", "key-s3cret", "tok-s3cret"}

// secretStore is a store URL with a password, a URL with credentials in its query and a
// secret query parameter (mem:// takes any of them and ignores them).
const secretStore = "mem://user:pw-s3cret@host?endpoint=http://AKIA:key-s3cret@127.0.0.1:9000&token=tok-s3cret"

// TestReportsHideSecrets runs `aft bench --out` and `aft workloads --out` on a store URL
// with secrets, the URL given both as --store=URL and as the word after --store, and
// looks for them in everything printed and in every file of the report folder.
func TestReportsHideSecrets(t *testing.T) {
	bin := buildAft(t)
	runs := map[string][]string{
		"bench": {"bench", "--quick", "--store=" + secretStore, "--store-latency", "0", "--duration", "200ms",
			"--open-duration", "200ms", "--rates", "0.5", "--crash-duration", "0"},
		"workloads": {"workloads", "--quick", "--scenarios", "baseline", "--modes", "aft", "--store", secretStore},
	}
	for name, args := range runs {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			cmd := exec.Command(bin, append(args, "--out", out)...)
			cmd.Dir = t.TempDir()
			printed, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("aft %s: %v\n%s", name, err, printed)
			}
			files := map[string][]byte{"(printed)": printed}
			filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files[path], _ = os.ReadFile(path)
				}
				return err
			})
			if len(files) < 3 {
				t.Fatalf("aft %s wrote %d files: want a report folder", name, len(files)-1)
			}
			for path, b := range files {
				for _, s := range secrets {
					if strings.Contains(string(b), s) {
						t.Errorf("%s holds the secret %q", path, s)
					}
				}
			}
		})
	}
}
