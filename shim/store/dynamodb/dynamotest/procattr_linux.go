package dynamotest

import "syscall"

// procAttr makes the server die with the test binary, even when that is killed.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
