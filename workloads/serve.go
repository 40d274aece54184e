package workloads

import (
	"os/exec"

	"github.com/aft-shim/aft/internal/launch"
)

// ServeCommand returns an Options.ServeCommand that runs `bin serve` with the args the
// suite gives, configured by those flags alone: the AFT_ variables of this process's
// environment are left out.
func ServeCommand(bin string) func(args ...string) *exec.Cmd {
	return func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
		cmd.Env = launch.Environ()
		return cmd
	}
}
