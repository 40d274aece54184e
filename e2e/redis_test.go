package e2e

import (
	"testing"

	"github.com/aft-shim/aft/shim/store/redis/redistest"
)

// TestCrashRecoveryRedis is TestCrashRecovery with `aft serve` on a Redis server of its own
// (loopback, a free port, no persistence: Redis outlives every SIGKILL of the shim, so what
// the shim wrote is all there when it restarts).
func TestCrashRecoveryRedis(t *testing.T) {
	srv := redistest.Start(t)
	runCrashRecovery(t, "--store", srv.URL(0, ""))
}

// TestCrashRecoveryRedisCluster is TestCrashRecoveryRedis on a Redis Cluster of three
// masters, where the store offers no PutCreate: the shim writes each commit as Put then
// Create.
func TestCrashRecoveryRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	// The prefix must not contain "aft": the test finds the address of a starting shim in
	// its output, and would take the first node's for it in the line that names the store.
	runCrashRecovery(t, "--store", c.URL("prefix=e2e:"))
}
