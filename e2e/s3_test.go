package e2e

import (
	"fmt"
	"testing"

	"github.com/aft-shim/aft/shim/store/s3/miniotest"
)

// TestCrashRecoveryS3 is TestCrashRecovery on the S3 backend: `aft serve` processes on one
// MinIO bucket (created by the first of them), killed with SIGKILL and restarted. MinIO
// stays up throughout; make deps builds it.
func TestCrashRecoveryS3(t *testing.T) {
	m := miniotest.Start(t)
	for k, v := range m.Env() {
		t.Setenv(k, v)
	}
	url := fmt.Sprintf("s3://aft-e2e/shim?region=us-east-1&endpoint=%s&path-style=true", m.Endpoint)
	runCrashRecovery(t, "--store", url, "--create-store")
}
