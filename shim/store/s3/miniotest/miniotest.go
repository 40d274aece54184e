// Package miniotest runs a MinIO server for tests: the real S3-compatible server the s3
// backend and the end-to-end tests run against. scripts/deps/minio.sh (make deps) builds the
// binary from Go modules into a cache outside the checkout; a test that needs it fails,
// and does not skip, when it is missing.
package miniotest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/internal/toolcache"
)

// Version is the MinIO module version scripts/deps/minio.sh builds; keep the two equal.
const Version = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Credentials of the root user every Server starts with.
const (
	User     = "aftminio"
	Password = "aftminio-secret"
)

// readyTimeout bounds the wait for a starting server to answer.
const readyTimeout = 60 * time.Second

// Binary returns the path of the MinIO binary: $AFT_MINIO when set, else the cache of
// scripts/deps/minio.sh, ${AFT_CACHE:-$HOME/.cache/aft}/minio/<Version>/minio.
func Binary() string {
	if p := os.Getenv("AFT_MINIO"); p != "" {
		return p
	}
	return filepath.Join(toolcache.Dir(), "minio", Version, "minio")
}

// Server is a MinIO server on a free loopback port, with its data in a temporary directory
// of the test. The test's cleanup stops it.
type Server struct {
	// Endpoint is the server's base URL, http://127.0.0.1:PORT.
	Endpoint string

	t    testing.TB
	bin  string
	dir  string
	addr string

	mu   sync.Mutex
	proc *launch.Proc // nil while stopped
}

// Start starts a server and waits until it answers. It fails the test, telling to run make
// deps, when the binary is missing.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("MinIO binary %s not found (%v): run make deps (or bash scripts/deps/minio.sh)", bin, err)
	}
	addr, err := launch.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Endpoint: "http://" + addr, t: t, bin: bin, dir: t.TempDir(), addr: addr}
	t.Cleanup(s.Stop)
	s.Restart()
	return s
}

// Restart starts the server again, on the same address and data, after Stop; it does
// nothing while the server runs.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return
	}
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.addr, "--console-address", "127.0.0.1:0", s.dir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+User,
		"MINIO_ROOT_PASSWORD="+Password,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=1",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	proc, err := launch.Start(cmd)
	if err != nil {
		s.t.Fatalf("start minio: %v", err)
	}
	if err := proc.WaitProbe(context.Background(), launch.HTTPOK(s.Endpoint+"/minio/health/ready"), 50*time.Millisecond, readyTimeout); err != nil {
		s.t.Fatalf("minio on %s: %v", s.addr, err)
	}
	s.proc = proc
}

// Stop stops the server (SIGKILL, as a crash would) and waits for it to exit; it does
// nothing when the server is not running.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.Kill()
		s.proc = nil
	}
}

// Env returns the environment variables that give the AWS SDK the server's credentials.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":     User,
		"AWS_SECRET_ACCESS_KEY": Password,
		"AWS_REGION":            "us-east-1",
	}
}

// Port returns the server's TCP port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}
