// Package redistest starts throwaway redis-server processes for tests: one server, or a
// small Redis Cluster, on free loopback ports, without persistence, stopped when the test
// ends. The tests of package redis and the end-to-end tests share it.
//
// redis-server must be on PATH; scripts/deps/redis.sh (make deps) installs it. When it is
// missing the test fails, telling so: it is never skipped.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aft-shim/aft/internal/launch"
)

// startTimeout bounds the wait for a started server to answer PING.
const startTimeout = 15 * time.Second

// Server is a redis-server process started for a test.
type Server struct {
	// Addr is the server's loopback address, 127.0.0.1:PORT.
	Addr string
	// Port is its port.
	Port int

	bin  string
	dir  string   // working directory: cluster configuration
	args []string // besides the port
	proc *launch.Proc
}

// Start starts a redis-server on a free loopback port, with no persistence and the extra
// arguments (such as "--databases", "64"), waits until it answers PING, and stops it when
// the test ends.
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	bin := binary(tb)
	s := &Server{bin: bin, dir: tb.TempDir(), args: extra}
	if err := s.startFree(tb, false); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	tb.Cleanup(s.kill)
	return s
}

// errPortTaken is the error of a server that could not listen on its port.
var errPortTaken = errors.New("port taken")

// startFree starts the server on a free port, and on another should some other process
// take the port first.
func (s *Server) startFree(tb testing.TB, bus bool) error {
	tb.Helper()
	for {
		err := s.startOn(freePort(tb, bus))
		if !errors.Is(err, errPortTaken) {
			return err
		}
	}
}

// binary returns the path of redis-server, failing the test when it is not installed.
func binary(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server is not installed (%v): run `make deps` (scripts/deps/redis.sh installs it)", err)
	}
	return bin
}

// freePort returns a loopback port nobody listens on; with bus, also port+10000 (a cluster
// node's bus port) is free.
func freePort(tb testing.TB, bus bool) int {
	tb.Helper()
	for range 100 {
		port, err := launch.FreePort()
		if err != nil {
			tb.Fatal(err)
		}
		if !bus {
			return port
		}
		if port+10000 <= 65535 {
			if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
				ln.Close()
				return port
			}
		}
	}
	tb.Fatal("find a free port: none found")
	return 0
}

// startOn starts the server on port and waits until it answers PING.
func (s *Server) startOn(port int) error {
	s.Port, s.Addr = port, "127.0.0.1:"+strconv.Itoa(port)
	return s.start()
}

// start starts the server, its log on stdout (the launch tail), and waits until it
// answers PING.
func (s *Server) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	proc, err := launch.Start(cmd)
	if err != nil {
		return fmt.Errorf("redis-server on port %d: %w", s.Port, err)
	}
	s.proc = proc
	ping := func(context.Context) error { return s.ping() }
	if err := proc.WaitProbe(context.Background(), ping, 10*time.Millisecond, startTimeout); err != nil {
		if errors.Is(err, launch.ErrExited) && strings.Contains(proc.Tail(), "Address already in use") {
			return fmt.Errorf("redis-server on port %d: %w", s.Port, errPortTaken)
		}
		return fmt.Errorf("redis-server on port %d: %w", s.Port, err)
	}
	return nil
}

// ping sends PING and expects PONG, or the refusal of a server that wants a password.
func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("PING: got %q", line)
	}
	return nil
}

// URL returns redis://ADDR/DB followed by query, if not empty (such as "prefix=t/").
func (s *Server) URL(db int, query string) string {
	u := "redis://" + s.Addr + "/" + strconv.Itoa(db)
	if query != "" {
		u += "?" + query
	}
	return u
}

// Stop stops the server (SIGTERM, then SIGKILL after 5s) and waits until it has exited. It
// may be called again, and Restart starts the server again.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	s.proc.Stop(5 * time.Second)
}

// Restart starts a stopped server again, on the same port, empty.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop(tb)
	if err := s.start(); err != nil {
		tb.Fatalf("restart redis-server: %v", err)
	}
}

// Pause stops the server with SIGSTOP: connections stay open but nothing answers, as with a
// hung server or a partitioned network. Resume undoes it; so does the end of the test.
func (s *Server) Pause(tb testing.TB) {
	tb.Helper()
	if err := s.proc.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatalf("pause redis-server: %v", err)
	}
	tb.Cleanup(func() { s.proc.Cmd.Process.Signal(syscall.SIGCONT) })
}

// Resume continues a paused server.
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	if err := s.proc.Cmd.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Fatalf("resume redis-server: %v", err)
	}
}

// kill sends SIGKILL (a paused server dies too) and waits until the process is gone.
func (s *Server) kill() {
	if s.proc != nil {
		s.proc.Kill()
	}
}
