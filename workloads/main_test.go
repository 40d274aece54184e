package workloads

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"

	"github.com/aft-shim/aft/shim/backend"
	"github.com/aft-shim/aft/shim/server"
	"github.com/aft-shim/aft/shim/txn"
	"github.com/prometheus/client_golang/prometheus"
)

// envServe makes the test binary serve the shim as `aft serve` does, for the scenarios
// that kill the shim's process.
const envServe = "AFT_WORKLOADS_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(envServe) == "1" {
		if err := serve(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "aft serve:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// serve is the part of `aft serve` the suite relies on: the flags it passes, the ready
// line, the API over the store of --store or --data-dir.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:7654", "")
	dir := fs.String("data-dir", "./aft-data", "")
	storeURL := fs.String("store", "", "")
	create := fs.Bool("create-store", false, "")
	fs.String("log-level", "info", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	st, _, err := backend.Open(ctx, *storeURL, backend.Options{DataDir: *dir, CreateStore: *create})
	if err != nil {
		return err
	}
	m, err := txn.New(ctx, st, txn.Config{})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Printf("aft serve: listening on %s\n", ln.Addr())
	return http.Serve(ln, server.New(m, prometheus.NewRegistry(), nil))
}

// serveCommand runs `aft serve`: the binary $AFT_BINARY when set, else this test binary
// in the role of serve.
func serveCommand(args ...string) *exec.Cmd {
	if bin := os.Getenv("AFT_BINARY"); bin != "" {
		return exec.Command(bin, append([]string{"serve"}, args...)...)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envServe+"=1")
	return cmd
}
