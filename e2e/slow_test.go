package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aft-shim/aft/client"
	"github.com/aft-shim/aft/shim/serve"
)

// slowConn is one connection of a slow client, and what became of it.
type slowConn struct {
	kind  string
	conn  net.Conn
	port  int           // its local port: the remote port of the server's end
	sent  time.Time     // when the last byte of its request that the server acts on was sent
	bound time.Duration // by when after sent the server must have closed it
	txn   string        // the transaction it wrote to, if any
	took  time.Duration // when after sent the server's end was seen closed; 0: not yet
}

// TestSlowClients attacks a real `aft serve` with 200 slow connections at once: 80 trickle
// their headers a byte a second, 50 trickle a PUT body to a transaction that does not
// exist, 50 begin a transaction and trickle a PUT body to it, 20 ask for an 8 MiB value and
// never read it. Meanwhile ordinary clients run transactions, and every one of them must
// succeed (their latencies with and without the attack are logged). The server must close
// each slow connection within its bound (seen in /proc/net/tcp: its end leaves
// ESTABLISHED), leave the transactions the trickled bodies aimed at usable until their idle
// timeout and abort them by it, and come back to its goroutine count from before.
func TestSlowClients(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("the server's closes are seen in Linux's /proc/net/tcp")
	}
	const (
		bodyTimeout = 2 * time.Second
		minRate     = 4 << 20
		bigSize     = 8 << 20 // more than the kernel buffers of a connection whose client reads nothing
		slack       = 2 * time.Second
		// The transactions of the trickled bodies are idle from their begin until the Put
		// that shows them usable, which comes after 3.5 s of waiting and up to 25 Puts and
		// Commits of the others, under load: room for a machine 3x slower than that.
		txnTimeout = 10 * time.Second
	)
	p := startAft(t, aftBinary(t), t.TempDir(), "--body-timeout", bodyTimeout.String(), "--body-min-rate", strconv.Itoa(minRate),
		"--txn-timeout", txnTimeout.String(), "--max-value-size", strconv.Itoa(bigSize), "--log-level", "error")
	base := "http://" + p.addr
	_, portText, _ := net.SplitHostPort(p.addr)
	serverPort, _ := strconv.Atoi(portText)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := client.New(base)
	seed, err := c.Begin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, seed.ID, "big", make([]byte, bigSize)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, seed.ID, nil); err != nil {
		t.Fatal(err)
	}

	calm := steadyFor(ctx, t, c, 4, 3*time.Second)
	before, err := metric(ctx, base, "go_goroutines")
	if err != nil {
		t.Fatal(err)
	}

	a := &slowAttack{t: t, addr: p.addr, stop: make(chan struct{})}
	defer a.end()
	attackStart := time.Now()
	for range 80 {
		a.trickle(a.open("headers", "GET /healthz HTTP/1.1\r\nHost: aft\r\nX-Slow: ", serve.HeaderTimeout), time.Second, 'z')
	}
	body := func(id string) string {
		return fmt.Sprintf("PUT /v1/txns/%s/keys/slow HTTP/1.1\r\nHost: aft\r\nContent-Length: 65536\r\n\r\n", id)
	}
	for range 50 { // a write reads its body before it looks its transaction up
		a.trickle(a.open("body", body(strings.Repeat("0", 32)), bodyTimeout), 500*time.Millisecond, 'b')
	}
	var lastBegin time.Time // of a transaction a trickled body aims at
	for range 50 {
		tx, err := c.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		lastBegin = time.Now()
		sc := a.open("txn body", body(tx.ID), bodyTimeout)
		sc.txn = tx.ID
		a.trickle(sc, 500*time.Millisecond, 'b')
	}
	answerBound := bodyTimeout + time.Duration(bigSize)*time.Second/minRate
	for range 20 {
		tx, err := c.Begin(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		a.open("unread answer", fmt.Sprintf("GET /v1/txns/%s/keys/big HTTP/1.1\r\nHost: aft\r\n\r\n", tx.ID), answerBound)
	}
	t.Logf("%d slow connections opened in %v", len(a.conns), time.Since(attackStart).Round(time.Millisecond))

	// Ordinary clients until every slow connection is closed, the closes seen, the
	// goroutines at the peak.
	var attacked steadyStats
	stopLoad, loadDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loadDone)
		attacked = steady(ctx, t, c, 4, stopLoad)
	}()
	closed := make(chan error, 1)
	go func() { closed <- watchCloses(serverPort, a.conns, attackStart.Add(serve.HeaderTimeout+2*slack)) }()
	time.Sleep(500 * time.Millisecond)
	peak, err := metric(ctx, base, "go_goroutines")
	if err != nil {
		t.Fatal(err)
	}

	// Once the trickled bodies were refused, half of their transactions go on and commit;
	// the other half is left, for the idle timeout to abort.
	time.Sleep(bodyTimeout + slack/2)
	var left []string
	committed := 0
	for i, sc := range a.conns {
		if sc.kind != "txn body" {
			continue
		}
		if i%2 == 0 {
			left = append(left, sc.txn)
			continue
		}
		if err := c.Put(ctx, sc.txn, "after", []byte("usable")); err != nil {
			t.Errorf("the transaction a trickled body aimed at, after the server refused it: %v", err)
		} else if _, err := c.Commit(ctx, sc.txn, nil); err != nil {
			t.Errorf("commit of the transaction a trickled body aimed at: %v", err)
		} else {
			committed++
		}
	}

	err = <-closed
	close(stopLoad)
	<-loadDone
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ordinary clients alone:      %v", calm)
	t.Logf("ordinary clients, attacked:  %v", attacked)
	if calm.errs != 0 || attacked.errs != 0 || attacked.txns < 50 {
		t.Errorf("ordinary transactions: %d failed alone, %d failed of %d under attack; want none failed, at least 50 done", calm.errs, attacked.errs, attacked.txns)
	}
	checkCloses(t, a.conns, slack)

	// Each left transaction has been idle since its begin: past --txn-timeout and a round of
	// its checks after the last begin, each is aborted, or soon is (a starved machine runs
	// the check late); one still running 5 s later fails.
	if wait := time.Until(lastBegin.Add(txnTimeout + time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	aborted := 0
	abortBy := time.Now().Add(5 * time.Second)
	for _, id := range left {
		for {
			tx, err := c.Status(ctx, id)
			if err == nil && tx.Status == "aborted" {
				aborted++
				break
			}
			if time.Now().After(abortBy) {
				t.Errorf("a transaction left after its trickled body, %v after the last began: %+v %v, want aborted by --txn-timeout %v", time.Since(lastBegin).Round(time.Millisecond), tx, err, txnTimeout)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("transactions of the trickled bodies: %d went on and committed after the refusal, %d of %d left were aborted by --txn-timeout %v", committed, aborted, len(left), txnTimeout)

	// The server's goroutines of the slow connections ended, while their clients still hold
	// them open (closing them would end the goroutines anyway).
	after := peak
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if after, err = metric(ctx, base, "go_goroutines"); err != nil {
			t.Fatal(err)
		}
		if after <= before+5 {
			break
		}
	}
	t.Logf("server goroutines: %v before the attack, %v at its start, %v after it, its clients still connected", before, peak, after)
	if peak < before+float64(len(a.conns))/2 {
		t.Errorf("goroutines at the attack's start %v, from %v: the slow connections did not reach the server", peak, before)
	}
	if after > before+5 {
		t.Errorf("goroutines %v after the attack, want back to about %v", after, before)
	}
}

// checkCloses fails t for each connection the server did not close within its bound
// (plus slack), and logs the times it took by kind.
func checkCloses(t *testing.T, conns []*slowConn, slack time.Duration) {
	t.Helper()
	var kinds []string
	took := map[string][]time.Duration{}
	bound := map[string]time.Duration{}
	for _, sc := range conns {
		if took[sc.kind] == nil {
			kinds = append(kinds, sc.kind)
		}
		took[sc.kind] = append(took[sc.kind], sc.took.Round(time.Millisecond))
		bound[sc.kind] = sc.bound
		if sc.took == 0 || sc.took > sc.bound+slack {
			t.Errorf("%s: the server closed the connection after %v (0: still open when the watch ended), want within %v (+%v)", sc.kind, sc.took, sc.bound, slack)
		}
	}
	for _, kind := range kinds {
		t.Logf("%-14s %2d connections closed by the server after %v; bound %v", kind+":", len(took[kind]), delaysOf(took[kind]), bound[kind])
	}
}

// slowAttack opens the slow connections of a test to addr, and ends them with the test.
type slowAttack struct {
	t     *testing.T
	addr  string
	conns []*slowConn

	stop      chan struct{} // closed by end: the tricklers stop
	trickling sync.WaitGroup
}

// open connects, sends request and returns the connection. A connection whose kind is
// "unread answer" keeps a small receive buffer: else the client's kernel would take most of
// an answer it never reads.
func (a *slowAttack) open(kind, request string, bound time.Duration) *slowConn {
	conn, err := net.Dial("tcp", a.addr)
	if err != nil {
		a.t.Fatal(err)
	}
	sc := &slowConn{kind: kind, conn: conn, port: conn.LocalAddr().(*net.TCPAddr).Port, bound: bound}
	a.conns = append(a.conns, sc)
	if kind == "unread answer" {
		conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	}
	if _, err := io.WriteString(conn, request); err != nil {
		a.t.Fatal(err)
	}
	sc.sent = time.Now()
	return sc
}

// trickle sends b on sc every period until the connection fails or the attack ends.
func (a *slowAttack) trickle(sc *slowConn, every time.Duration, b byte) {
	a.trickling.Add(1)
	go func() {
		defer a.trickling.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-tick.C:
			}
			if _, err := sc.conn.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
}

// end closes every connection and waits for the tricklers.
func (a *slowAttack) end() {
	for _, sc := range a.conns {
		sc.conn.Close()
	}
	close(a.stop)
	a.trickling.Wait()
}

// watchCloses polls the server's ends of conns in /proc/net/tcp until each has left
// ESTABLISHED or until passes, setting took on each when it did.
func watchCloses(serverPort int, conns []*slowConn, until time.Time) error {
	for {
		established, err := establishedPeers(serverPort)
		if err != nil {
			return err
		}
		now, open := time.Now(), 0
		for _, sc := range conns {
			if sc.took == 0 && !established[sc.port] {
				sc.took = now.Sub(sc.sent)
			}
			if sc.took == 0 {
				open++
			}
		}
		if open == 0 || now.After(until) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// establishedPeers returns the remote ports of the ESTABLISHED IPv4 connections whose local
// port is port, from /proc/net/tcp.
func establishedPeers(port int) (map[int]bool, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	peers := map[int]bool{}
	sc := bufio.NewScanner(f)
	sc.Scan() // the heading
	for sc.Scan() {
		// sl local_address rem_address st ...: addresses are HEXIP:HEXPORT, st 01 is ESTABLISHED.
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "01" {
			continue
		}
		local, _ := strconv.ParseUint(f[1][strings.IndexByte(f[1], ':')+1:], 16, 16)
		remote, _ := strconv.ParseUint(f[2][strings.IndexByte(f[2], ':')+1:], 16, 16)
		if int(local) == port {
			peers[int(remote)] = true
		}
	}
	return peers, sc.Err()
}
