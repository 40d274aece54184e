package peer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Pusher.
type Options struct {
	Peers    []string      // from ParsePeers
	Self     string        // this node's advertised base URL, left out of the peers
	Interval time.Duration // how often names are resolved again and peers checked (default 1s)
	Client   *http.Client  // default: a client with 2s timeouts
	// Token is sent with every push (Authorization: Bearer) to peers run with --auth-file:
	// a token of any tenant, as the peers check every pushed commit in the store anyway.
	Token     string
	Log       *slog.Logger
	QueueSize int // commits waiting per peer before pushes are dropped (default 4096)
}

// Pusher pushes commits to the peers that are up.
type Pusher struct {
	o        Options
	mu       sync.Mutex
	peers    map[string]*target
	up       prometheus.Gauge
	pushes   *prometheus.CounterVec
	resolver *net.Resolver
}

// target is one peer: its queue and whether its last check or push succeeded.
type target struct {
	url   string
	queue chan Commit
	up    bool
	stop  chan struct{}
}

// New returns a Pusher; Run keeps its peers.
func New(o Options) *Pusher {
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 4096
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 2 * time.Second}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Pusher{o: o, peers: map[string]*target{}, resolver: net.DefaultResolver,
		up: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "aft", Name: "peers_up", Help: "Peers (--peers) that answered their last health check or push."}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "aft", Name: "peer_pushes_total",
			Help: "Commits pushed to peers, by result: sent, failed (the peer learns them from the store), dropped (queue full or peer down)."}, []string{"result"}),
	}
}

// Collectors returns the pusher's metrics.
func (p *Pusher) Collectors() []prometheus.Collector { return []prometheus.Collector{p.up, p.pushes} }

// Push queues a commit for every peer that is up; it never blocks.
func (p *Pusher) Push(rec []byte, stamp uint64) {
	c := Commit{Stamp: stamp, Record: rec}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.peers {
		if !t.up {
			p.pushes.WithLabelValues("dropped").Inc()
			continue
		}
		select {
		case t.queue <- c:
		default:
			p.pushes.WithLabelValues("dropped").Inc()
		}
	}
}

// Run resolves the peers and checks their health every Interval until ctx ends, and
// sends each one's queue as it fills.
func (p *Pusher) Run(ctx context.Context) {
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		p.refresh(ctx)
		select {
		case <-ctx.Done():
			p.mu.Lock()
			for _, t := range p.peers {
				close(t.stop)
			}
			p.peers = map[string]*target{}
			p.mu.Unlock()
			return
		case <-t.C:
		}
	}
}

// refresh resolves the peer list again, starting senders for new peers and stopping
// those of peers gone, and checks each peer's /healthz.
func (p *Pusher) refresh(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, p.o.Interval)
	urls := resolve(rctx, p.resolver, p.o.Peers, p.o.Self)
	cancel()
	now := map[string]bool{}
	p.mu.Lock()
	for _, u := range urls {
		now[u] = true
		if p.peers[u] == nil {
			// Up until a check or a push fails: a push to a peer that is down fails at once.
			t := &target{url: u, queue: make(chan Commit, p.o.QueueSize), stop: make(chan struct{}), up: true}
			p.peers[u] = t
			go p.send(t)
		}
	}
	var check []*target
	for u, t := range p.peers {
		if !now[u] {
			close(t.stop)
			delete(p.peers, u)
			continue
		}
		check = append(check, t)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, t := range check {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.setUp(t, p.healthy(ctx, t.url))
		}()
	}
	wg.Wait()
}

func (p *Pusher) healthy(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, p.o.Interval)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := p.o.Client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (p *Pusher) setUp(t *target, up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.up != up {
		p.o.Log.Info("peer "+map[bool]string{true: "up", false: "down"}[up], "peer", t.url)
	}
	t.up = up
	n := 0
	for _, t := range p.peers {
		if t.up {
			n++
		}
	}
	p.up.Set(float64(n))
}

// maxPush bounds the commits of one push request.
const maxPush = 256

// send posts t's queue to t, as many commits at a time as have queued (up to maxPush, and
// MaxBody bytes), until t is stopped.
func (p *Pusher) send(t *target) {
	var body []byte
	for {
		var c Commit
		select {
		case <-t.stop:
			return
		case c = <-t.queue:
		}
		body = Append(body[:0], c)
		n := 1
	more:
		for n < maxPush && len(body) < MaxBody/2 {
			select {
			case c = <-t.queue:
				body = Append(body, c)
				n++
			default:
				break more
			}
		}
		if err := p.post(t.url, body); err != nil {
			p.pushes.WithLabelValues("failed").Add(float64(n))
			p.setUp(t, false)
			continue
		}
		p.pushes.WithLabelValues("sent").Add(float64(n))
	}
}

func (p *Pusher) post(base string, body []byte) error {
	req, err := http.NewRequest(http.MethodPost, base+Path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if p.o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.o.Token)
	}
	resp, err := p.o.Client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("push to %s: %s", base, resp.Status)
	}
	return nil
}
