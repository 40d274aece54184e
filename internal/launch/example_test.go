package launch_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"time"

	"github.com/aft-shim/aft/internal/launch"
)

// Start a server, wait for its ready line and read its address from it, then stop it.
func Example() {
	cmd := exec.Command("/bin/sh", "-c", `echo "listening on 127.0.0.1:7654"; exec sleep 60`)
	cmd.Env = launch.Environ() // its flags alone configure a child aft
	p, err := launch.Start(cmd)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Kill()
	ready := launch.Submatch(regexp.MustCompile(`^listening on (\S+)`)) // aft serve's: serve.ReadyAddr
	addr, err := p.WaitLine(context.Background(), ready, 10*time.Second)
	if err != nil {
		fmt.Println(err) // says whether it exited first or timed out, with its last output
		return
	}
	fmt.Println("serving on", addr)
	p.Stop(5 * time.Second)
	fmt.Println(p.Wait())
	// Output:
	// serving on 127.0.0.1:7654
	// signal: terminated
}
