//go:build !linux

package redistest

import "syscall"

// sysProcAttr is empty where there is no parent death signal: a server may outlive a test
// process that dies first.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
