package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/internal/launch"
	"github.com/aft-shim/aft/internal/toolcache"
	"github.com/aft-shim/aft/shim/serve"
)

// netns is a network namespace made for one test, joined to the test's own by a veth pair:
// a pod's network, whose processes share its loopback and whose fixed ports (queue-proxy's
// 8012, 8022 and 9090) are free whatever runs on this machine.
type netns struct {
	name string
	ip   string // the namespace's end of the veth pair, reachable from the test
}

// newNetns makes a namespace, removed at cleanup. It needs CAP_NET_ADMIN (root).
func newNetns(t *testing.T) *netns {
	t.Helper()
	n := rand.IntN(250) + 1
	ns := &netns{name: fmt.Sprintf("aft-e2e-%d-%d", os.Getpid(), n), ip: fmt.Sprintf("10.213.%d.2", n)}
	host, peer := fmt.Sprintf("aftv%dh", n), fmt.Sprintf("aftv%dn", n)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s (the test makes a network namespace: it needs root, or CAP_NET_ADMIN, and iproute2)", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns.name)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "netns", "del", ns.name).Run()
	})
	ip("link", "add", host, "type", "veth", "peer", "name", peer)
	ip("link", "set", peer, "netns", ns.name)
	ip("addr", "add", fmt.Sprintf("10.213.%d.1/30", n), "dev", host)
	ip("link", "set", host, "up")
	ip("netns", "exec", ns.name, "ip", "addr", "add", ns.ip+"/30", "dev", peer)
	ip("netns", "exec", ns.name, "ip", "link", "set", peer, "up")
	ip("netns", "exec", ns.name, "ip", "link", "set", "lo", "up")
	return ns
}

// start starts name with args in the namespace, with env added, and kills it at cleanup.
func (ns *netns) start(t *testing.T, env []string, name string, args ...string) *launch.Proc {
	t.Helper()
	return startProc(t, append(launch.Environ(), env...), "ip", append([]string{"netns", "exec", ns.name, name}, args...)...)
}

// pod starts, in a network namespace of its own, the chain of a Knative pod running a
// transactional function, as the webhook sets it up: Knative's real queue-proxy (v0.50.0) on
// 8012 -> aft proxy on 8080 (the serving port) -> the e2e function in mode on 8081 (its PORT)
// -> aft serve on 7654 (in the pod here, for the test). It returns the namespace's address.
func pod(t *testing.T, mode string) string {
	t.Helper()
	queue, err := toolcache.QueueProxy.Path()
	if err != nil {
		t.Fatal(err)
	}
	ns := newNetns(t)
	bin := aftBinary(t)
	shim := ns.start(t, nil, bin, "serve", "--listen", "0.0.0.0:7654", "--insecure", "--data-dir", t.TempDir())
	if _, err := shim.WaitLine(t.Context(), serve.ReadyAddr, 30*time.Second); err != nil {
		t.Fatalf("aft serve: %v\n%s", err, shim.Tail())
	}
	// A zombie sleeps 5 s against the proxy's 1 s attempt timeout, so that its retry commits
	// first even on a starved machine.
	ns.start(t, []string{"AFT_E2E_FUNCTION=" + mode, "PORT=8081", "ZOMBIE_SLEEP=5s"}, os.Args[0])
	ns.start(t, nil, bin, "proxy", "--listen", "127.0.0.1:8080", "--admin-listen", "127.0.0.1:9095",
		"--upstream", "http://127.0.0.1:8081", "--shim", "http://127.0.0.1:7654", "--function", mode,
		"--attempts", "3", "--attempt-timeout", "1s", "--deadline", "20s", "--backoff-base", "10ms", "--backoff-max", "50ms")
	q := ns.start(t, []string{"SERVING_NAMESPACE=default", "SERVING_CONFIGURATION=" + mode, "SERVING_REVISION=" + mode + "-00001",
		"SERVING_POD=" + mode + "-pod", "SERVING_POD_IP=" + ns.ip, "CONTAINER_CONCURRENCY=0", "QUEUE_SERVING_PORT=8012",
		"QUEUE_SERVING_TLS_PORT=8112", "USER_PORT=8080", "REVISION_TIMEOUT_SECONDS=60",
		// The user's readiness probe, now the proxy's: queue-proxy runs it against the
		// serving port with a kubelet's User-Agent. The function answers /healthz 200
		// only outside a transaction, so the pod gets ready only if the proxy passes it.
		`SERVING_READINESS_PROBE={"httpGet":{"path":"/healthz","port":8080,"host":"127.0.0.1","scheme":"HTTP"},"periodSeconds":1,"timeoutSeconds":1,"successThreshold":1}`,
		"SERVING_LOGGING_CONFIG=", "SERVING_LOGGING_LEVEL=info"}, queue)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("queue-proxy:\n%s", q.Tail())
		}
	})
	// Knative routes to a pod only once it is ready: wait as it does, with the kubelet's
	// probe, which queue-proxy answers 200 only after its readiness probe passed through
	// the proxy to the function's /healthz (before that an attempt could find the function
	// not yet listening, and be retried, so the function's count would trail the proxy's).
	if probe, _ := call(t, "GET", "http://"+ns.ip+":8012/", kubeletProbe); probe.StatusCode != http.StatusOK {
		t.Fatalf("the pod never got ready: the kubelet's probe answered %d, want 200", probe.StatusCode)
	}
	return ns.ip
}

// kubeletProbe is the kubelet's probe of a Knative pod, as Knative configures it.
var kubeletProbe = map[string]string{"K-Network-Probe": "queue", "User-Agent": "kube-probe/1.35"}

// call sends a request with headers h and returns the answer, waiting for the chain to come
// up (queue-proxy answers 502 or 503 until the proxy behind it listens).
func call(t *testing.T, method, url string, h map[string]string) (*http.Response, string) {
	t.Helper()
	var resp *http.Response
	var err error
	for range 150 {
		req, _ := http.NewRequest(method, url, strings.NewReader("order"))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		if resp, err = http.DefaultClient.Do(req); err == nil && resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusServiceUnavailable {
			break
		}
		if err == nil {
			resp.Body.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// read reads keys in a transaction of the shim at shimURL.
func read(t *testing.T, shimURL string, keys ...string) map[string]string {
	t.Helper()
	c := client.New(shimURL)
	ctx := context.Background()
	tx, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort(ctx, tx.ID)
	out := map[string]string{}
	for _, k := range keys {
		if v, err := c.Get(ctx, tx.ID, k); err == nil {
			out[k] = string(v.Bytes)
		}
	}
	return out
}

// TestQueueProxyChain runs the Knative sidecar chain as a pod runs it (see pod), and the
// middleware's cases through Knative's real queue-proxy: a request whose first attempt
// crashes between its two writes leaves both written once; a duplicate is answered from the
// stored result; a CloudEvent redelivered with its id runs once; a zombie attempt and its
// retry increment a counter once; queue-proxy's readiness probe reaches the function in no
// transaction (the pod is never ready otherwise).
func TestQueueProxyChain(t *testing.T) {
	t.Run("pair", func(t *testing.T) {
		ip := pod(t, "pair")
		base := "http://" + ip + ":8012"
		resp, body := call(t, "POST", base+"/", map[string]string{"Idempotency-Key": "qp-1"})
		if resp.StatusCode != 200 || !strings.Contains(body, "done by attempt 2") || resp.Header.Get("X-Aft-Attempts") != "2" {
			t.Fatalf("through queue-proxy: %d %q (attempts %q), want 200 from the second attempt", resp.StatusCode, body, resp.Header.Get("X-Aft-Attempts"))
		}
		if got := read(t, "http://"+ip+":7654", "pair/a", "pair/b"); got["pair/a"] != "qp-1" || got["pair/b"] != "qp-1" {
			t.Errorf("pair/a, pair/b = %v, want both qp-1", got)
		}
		resp, again := call(t, "POST", base+"/", map[string]string{"Idempotency-Key": "qp-1"})
		if resp.StatusCode != 200 || again != body || resp.Header.Get("X-Aft-Replayed") != "true" {
			t.Errorf("duplicate: %d %q replayed %q, want the stored %q", resp.StatusCode, again, resp.Header.Get("X-Aft-Replayed"), body)
		}
		ce := map[string]string{"Ce-Specversion": "1.0", "Ce-Type": "t", "Ce-Source": "/qp", "Ce-Id": "e-1"}
		_, first := call(t, "POST", base+"/", ce)
		resp, again = call(t, "POST", base+"/", ce)
		if again != first || resp.Header.Get("X-Aft-Replayed") != "true" {
			t.Errorf("CloudEvent redelivered: %q replayed %q, want the stored %q", again, resp.Header.Get("X-Aft-Replayed"), first)
		}
		// The kubelet's probe of the pod, as Knative configures it (K-Network-Probe: queue):
		// queue-proxy answers from its readiness probe of the proxy, which the proxy passed
		// to the function's /healthz in no transaction.
		probe, _ := call(t, "GET", base+"/", kubeletProbe)
		if probe.StatusCode != 200 {
			t.Errorf("kubelet probe of the pod: %d, want 200", probe.StatusCode)
		}
	})
	t.Run("zombie", func(t *testing.T) {
		ip := pod(t, "zombie")
		shimURL := "http://" + ip + ":7654"
		fenced := func() float64 {
			t.Helper()
			v, err := metric(t.Context(), shimURL, "aft_txns_fenced_total")
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		before := fenced()
		resp, body := call(t, "POST", "http://"+ip+":8012/", map[string]string{"Idempotency-Key": "qp-z"})
		if resp.StatusCode != 200 {
			t.Fatalf("through queue-proxy: %d %q", resp.StatusCode, body)
		}
		// The zombie finishes (5 s after it started) and its commit is fenced; the bound has
		// room for a starved machine.
		for deadline := time.Now().Add(15 * time.Second); fenced() < before+1 && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if got := fenced() - before; got != 1 {
			t.Errorf("the shim fenced %v commits, want 1: the zombie's", got)
		}
		if got := read(t, shimURL, "zombie/count"); got["zombie/count"] != "1" {
			t.Errorf("zombie/count = %v, want 1: the zombie and its retry commit once", got)
		}
	})
}
