package launch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envChild makes the test binary a child process of the tests: its value says what it does.
const envChild = "LAUNCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		child(mode)
		return
	}
	os.Exit(m.Run())
}

// child is the test binary run by child(t, mode).
func child(mode string) {
	switch mode {
	case "ready": // a line on stderr, the ready line on stdout, then serve until killed
		fmt.Fprintln(os.Stderr, "starting up")
		fmt.Println("ready on 127.0.0.1:1234 (test)")
	case "exit":
		fmt.Fprintln(os.Stderr, "boom: cannot start")
		os.Exit(3)
	case "listen":
		ln, err := net.Listen("tcp", os.Getenv("LAUNCH_TEST_ADDR"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer ln.Close()
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
	case "chatty": // much output, then the ready line
		for i := range 1000 {
			fmt.Printf("line %d %s\n", i, strings.Repeat("x", 50))
		}
		fmt.Println("ready")
	case "silent":
	}
	time.Sleep(time.Minute)
	os.Exit(0)
}

// start starts the test binary as a child doing mode, killed at the end of the test.
func start(t *testing.T, mode string, env ...string) (*Proc, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), envChild+"="+mode), env...)
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p, cmd
}

var ready = Submatch(regexp.MustCompile(`^ready on (\S+)`))

func TestWaitLine(t *testing.T) {
	p, _ := start(t, "ready")
	addr, err := p.WaitLine(t.Context(), ready, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1:1234" {
		t.Errorf("submatch %q, want 127.0.0.1:1234", addr)
	}
	// The line is in the tail: a second wait finds it at once.
	if _, err := p.WaitLine(t.Context(), ready, time.Millisecond); err != nil {
		t.Errorf("second wait: %v", err)
	}
	p.Kill()
	select {
	case <-p.Exited():
	default:
		t.Fatal("Kill returned before the process was reaped")
	}
	// Checked once the process is reaped: stdout and stderr are copied apart, so the ready
	// line on stdout may come before the earlier line on stderr reaches the tail.
	if tail := p.Tail(); !strings.Contains(tail, "starting up") || !strings.Contains(tail, "ready on") {
		t.Errorf("tail %q lacks the output of stdout and stderr", tail)
	}
	p.Kill() // again: nothing
}

func TestWaitExited(t *testing.T) {
	for name, wait := range map[string]func(p *Proc) error{
		"line":  func(p *Proc) error { _, err := p.WaitLine(t.Context(), ready, 10*time.Second); return err },
		"dial":  func(p *Proc) error { return p.WaitDial(t.Context(), "127.0.0.1:1", 10*time.Second) },
		"probe": func(p *Proc) error { return p.WaitProbe(t.Context(), probeFails, time.Millisecond, 10*time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := start(t, "exit")
			err := wait(p)
			if !errors.Is(err, ErrExited) {
				t.Fatalf("got %v, want ErrExited", err)
			}
			for _, want := range []string{"exit status 3", "boom: cannot start"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			var ee *exec.ExitError
			if err := p.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
				t.Errorf("Wait: %v, want exit status 3", err)
			}
		})
	}
}

func probeFails(context.Context) error { return errors.New("not yet") }

func TestWaitTimeout(t *testing.T) {
	for name, tt := range map[string]struct {
		wait func(p *Proc) error
		say  string
	}{
		"line": {func(p *Proc) error { _, err := p.WaitLine(t.Context(), ready, 100*time.Millisecond); return err }, "no ready line within 100ms"},
		"probe": {func(p *Proc) error {
			return p.WaitProbe(t.Context(), probeFails, time.Millisecond, 100*time.Millisecond)
		}, "within 100ms, last try: not yet"},
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := start(t, "silent")
			err := tt.wait(p)
			if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), tt.say) {
				t.Fatalf("got %v, want ErrTimeout saying %q", err, tt.say)
			}
			select {
			case <-p.Exited():
			default:
				t.Error("the process still runs after a failed wait")
			}
		})
	}
}

func TestWaitContext(t *testing.T) {
	p, _ := start(t, "silent")
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := p.WaitLine(ctx, ready, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	<-p.Exited()
}

func TestWaitDial(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, _ := start(t, "listen", "LAUNCH_TEST_ADDR="+addr)
	if err := p.WaitDial(t.Context(), addr, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestStop(t *testing.T) {
	p, _ := start(t, "silent")
	p.Stop(10 * time.Second)
	var ee *exec.ExitError
	if err := p.Wait(); !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("after Stop: %v, want killed by SIGTERM", err)
	}

	p, _ = start(t, "stubborn")
	if _, err := p.WaitLine(t.Context(), Submatch(regexp.MustCompile("ignoring")), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	p.Stop(100 * time.Millisecond)
	if err := p.Wait(); !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("after Stop of a process that ignores SIGTERM: %v, want killed by SIGKILL", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Stop took %v", d)
	}
}

// A command with Setpgid is signalled as a group: a shell's children die with it.
func TestKillGroup(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 60 & echo started; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitLine(t.Context(), Submatch(regexp.MustCompile("started")), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	p.Kill()
	if d := time.Since(begin); d > waitDelay/2 {
		t.Errorf("Kill took %v: the shell's child kept its output open", d)
	}
}

// The output goes on to the writers of the command, and the tail stays bounded.
func TestOutput(t *testing.T) {
	var buf bytes.Buffer // read once the process was reaped
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=chatty")
	cmd.Stdout = &buf
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	if _, err := p.WaitLine(t.Context(), Submatch(regexp.MustCompile("^ready$")), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Kill()
	if got := strings.Count(buf.String(), "\n"); got != 1001 {
		t.Errorf("the command's stdout got %d lines, want 1001", got)
	}
	tail := p.Tail()
	if len(tail) > tailBytes || !strings.HasPrefix(tail, "line ") || !strings.HasSuffix(tail, "line 999 "+strings.Repeat("x", 50)+"\nready") {
		t.Errorf("tail of %d bytes, from %.20q to %q", len(tail), tail, tail[max(0, len(tail)-80):])
	}
}

func TestEnviron(t *testing.T) {
	t.Setenv("AFT_LAUNCH_TEST", "1")
	t.Setenv("LAUNCH_TEST_KEPT", "1")
	env := strings.Join(Environ(), "\n")
	if strings.Contains(env, "AFT_LAUNCH_TEST") || !strings.Contains(env, "LAUNCH_TEST_KEPT=1") {
		t.Errorf("Environ() = %s", env)
	}
}

func TestSubmatch(t *testing.T) {
	for _, tt := range []struct {
		re, line, want string
		ok             bool
	}{
		{`^at (\S+)`, "at here now", "here", true},
		{`^ready$`, "ready", "ready", true},
		{`^ready$`, "not ready", "", false},
	} {
		got, ok := Submatch(regexp.MustCompile(tt.re))(tt.line)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Submatch(%s)(%q) = %q, %v; want %q, %v", tt.re, tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFreeAddr(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr %s is not free: %v", addr, err)
	}
	ln.Close()
	port, err := FreePort()
	if err != nil || port <= 0 {
		t.Fatalf("FreePort() = %d, %v", port, err)
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := NewLineWriter(func(l string) { got = append(got, l) })
	for _, s := range []string{"one\ntw", "o\r\n", "", "three\n\nfour"} {
		w.Write([]byte(s))
	}
	w.Flush()
	w.Flush() // nothing more
	if want := []string{"one", "two", "three", "", "four"}; !slices.Equal(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
}

func TestHTTPOK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ready" {
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if err := HTTPOK(srv.URL + "/ready")(t.Context()); err != nil {
		t.Errorf("ready: %v", err)
	}
	if err := HTTPOK(srv.URL + "/other")(t.Context()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("not ready: %v, want an error saying 503", err)
	}
}
