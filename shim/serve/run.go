package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"unicode"
)

// ReadyPrefix begins the line Run prints on out once it serves (spec/cli.md):
//
//	aft serve: listening on 127.0.0.1:7654 (store: embedded bbolt in ./aft-data/aft.db)
//
// A program that starts `aft serve` waits for it and takes the address from it (ReadyAddr).
const ReadyPrefix = "aft serve: listening on "

// ReadyAddr returns the address a ready line names, and false for any other line.
func ReadyAddr(line string) (addr string, ok bool) {
	rest, ok := strings.CutPrefix(line, ReadyPrefix)
	if !ok {
		return "", false
	}
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		rest = rest[:i]
	}
	return rest, rest != ""
}

// Run is `aft serve`: it opens the shim (Open), listens on cfg.Listen, prints the ready
// line on out, and serves until ctx ends (nil error) or another node takes the store's
// lease over (an error saying so); then it stops gracefully, giving requests in flight
// cfg.ShutdownTimeout. cfg should have passed Validate; log gets start-up's waits, lease
// events and the server's errors (nil: nothing).
func Run(ctx context.Context, cfg Config, out io.Writer, log *slog.Logger) error {
	log = orDiscard(log)
	// Listen first: the address, a port chosen at random included, is the node's default
	// advertised URL, which its lease record names to the other nodes.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another aft running? pick another address with --listen)", cfg.Listen, err)
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		ln.Close()
		return err
	}
	scheme := "http://"
	if tlsCfg != nil {
		ln, scheme = tls.NewListener(ln, tlsCfg), "https://"
	}
	if cfg.Advertise == "" {
		cfg.Advertise = scheme + ln.Addr().String()
	}
	s, err := Open(ctx, cfg, log)
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.PprofListen != "" {
		stop, err := servePprof(cfg.PprofListen, log)
		if err != nil {
			ln.Close()
			s.Close()
			return err
		}
		defer stop()
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	fmt.Fprintf(out, "%s%s (store: %s)\n", ReadyPrefix, ln.Addr(), s.Describe())

	var lost error
	select {
	case err := <-done:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	case <-s.Lost():
		lost = errors.New("this node's lease on the store is lost (another process took it over, or it expired before this node could renew it): stopped; " +
			"restart it to recover from the store, as the other nodes no longer keep what its transactions could read")
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := s.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown", "err", err)
	}
	return lost
}
