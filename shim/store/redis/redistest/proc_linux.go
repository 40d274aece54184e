package redistest

import "syscall"

// sysProcAttr has the kernel kill the server should the test process die first (a test
// timeout, a crash), so that no server outlives its test.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
