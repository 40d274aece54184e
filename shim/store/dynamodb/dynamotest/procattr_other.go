//go:build !linux

package dynamotest

import "syscall"

// procAttr is nil where a child cannot be tied to its parent's life.
func procAttr() *syscall.SysProcAttr { return nil }
