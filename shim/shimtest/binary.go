package shimtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The aft binary, built once per test process by AftBinary and removed by RemoveAftBinary.
var (
	aftOnce sync.Once
	aftDir  string
	aftPath string
	aftErr  error
)

// AftBinary builds ./cmd/aft of this module (go build, found from the test's working
// directory through go env GOMOD) once per test process and returns its path; a build that
// fails fails t. A package's TestMain calls RemoveAftBinary after m.Run.
func AftBinary(t testing.TB) string {
	t.Helper()
	aftOnce.Do(func() { aftPath, aftErr = buildAft() })
	if aftErr != nil {
		t.Fatal(aftErr)
	}
	return aftPath
}

func buildAft() (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build aft: %w", err)
	}
	out, err := exec.Command(goTool, "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("build aft: find the module root: go env GOMOD = %q, %v", gomod, err)
	}
	if aftDir, err = os.MkdirTemp("", "aft-bin-"); err != nil {
		return "", fmt.Errorf("build aft: %w", err)
	}
	path := filepath.Join(aftDir, "aft")
	cmd := exec.Command(goTool, "build", "-o", path, "./cmd/aft")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build aft: go build ./cmd/aft: %v\n%s", err, out)
	}
	return path, nil
}

// RemoveAftBinary removes the binary AftBinary built, if it built one.
func RemoveAftBinary() {
	if aftDir != "" {
		os.RemoveAll(aftDir)
	}
}
