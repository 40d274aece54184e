//go:build tools

// Package tools pins the OpenFaaS gateway, a test peer of the aft plugin: the end-to-end
// tests build it (go build github.com/openfaas/faas/gateway in this folder) and run it.
// It is under the OpenFaaS CE licence: built at test time, never shipped with aft.
package tools

import _ "github.com/openfaas/faas/gateway"
