// Package redistest starts throwaway redis-server processes for tests: one server, or a
// small Redis Cluster, on free loopback ports, without persistence, stopped when the test
// ends. The tests of package redis and the end-to-end tests share it.
//
// redis-server must be on PATH; scripts/deps/redis.sh (make deps) installs it. When it is
// missing the test fails, telling so: it is never skipped.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds the wait for a started server to answer PING.
const startTimeout = 15 * time.Second

// Server is a redis-server process started for a test.
type Server struct {
	// Addr is the server's loopback address, 127.0.0.1:PORT.
	Addr string
	// Port is its port.
	Port int

	bin    string
	dir    string   // working directory: log, cluster configuration
	args   []string // besides the port
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd exited and was reaped
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
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("find a free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if !bus {
			ln.Close()
			return port
		}
		if port+10000 <= 65535 {
			if ln2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
				ln2.Close()
				ln.Close()
				return port
			}
		}
		ln.Close()
	}
	tb.Fatal("find a free port: none found")
	return 0
}

// startOn starts the server on port and waits until it answers PING.
func (s *Server) startOn(port int) error {
	s.Port, s.Addr = port, "127.0.0.1:"+strconv.Itoa(port)
	return s.start()
}

func (s *Server) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", s.logPath(),
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server on port %d: %w", s.Port, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(s.exited)
	deadline := time.Now().Add(startTimeout)
	for {
		if err := s.ping(); err == nil {
			return nil
		}
		select {
		case <-s.exited:
			log := s.LogTail()
			if strings.Contains(log, "Address already in use") {
				return fmt.Errorf("redis-server on port %d: %w", s.Port, errPortTaken)
			}
			return fmt.Errorf("redis-server on port %d exited (%v):\n%s", s.Port, cmd.ProcessState, log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d: no answer to PING in %v:\n%s", s.Port, startTimeout, s.LogTail())
		}
	}
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
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.kill()
	}
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
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		tb.Fatalf("pause redis-server: %v", err)
	}
	tb.Cleanup(func() { s.cmd.Process.Signal(syscall.SIGCONT) })
}

// Resume continues a paused server.
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		tb.Fatalf("resume redis-server: %v", err)
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // a paused process dies of SIGKILL too; be sure
	s.cmd.Process.Kill()
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
	}
}

func (s *Server) logPath() string { return filepath.Join(s.dir, "redis.log") }

// LogTail returns the end of the server's log, for failure messages.
func (s *Server) LogTail() string {
	b, err := os.ReadFile(s.logPath())
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return strings.TrimRight(string(b), "\n")
}
