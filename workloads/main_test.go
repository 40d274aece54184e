package workloads

import (
	"os"
	"os/exec"
	"testing"

	"github.com/aft-shim/aft/shim/shimtest"
	"github.com/aft-shim/aft/shim/store/dynamodb/dynamotest"
)

func TestMain(m *testing.M) {
	code := dynamotest.Main(m) // stops the shared DynamoDB Local, if a test started it
	shimtest.RemoveAftBinary()
	os.Exit(code)
}

// serveCommand runs the real `aft serve`, built once per test run, for the scenarios that
// kill the shim's process.
func serveCommand(t testing.TB) func(args ...string) *exec.Cmd {
	return ServeCommand(shimtest.AftBinary(t))
}
