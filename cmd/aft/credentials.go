package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
)

// envShimToken holds the shim token itself (cli.md), for the programs that call the shim.
// It is not a flag: a token on a command line shows in ps.
const envShimToken = "AFT_SHIM_TOKEN"

// shimCreds are the flags of every program that calls the shim (cli.md, "Callers and
// TLS"): --shim-token-file and --shim-ca, and AFT_SHIM_TOKEN. Each command registers them
// on its flag set and, after parseFlags, turns them into client options.
type shimCreds struct{ client.Credentials }

// register adds --shim-token-file and --shim-ca to fs.
func (s *shimCreds) register(fs *flag.FlagSet) {
	fs.StringVar(&s.TokenFile, "shim-token-file", "", "`FILE` holding the token of a shim run with --auth-file, re-read when it changes (or set "+envShimToken+" to the token itself)")
	fs.StringVar(&s.CAFile, "shim-ca", "", "PEM `FILE` of the CA that signed an https shim's certificate, when the system does not trust it")
}

// fallbackTokenFile makes path the token file when neither --shim-token-file nor
// AFT_SHIM_TOKEN gives the token and path exists. Call it after parseFlags.
func (s *shimCreds) fallbackTokenFile(path string) {
	if s.TokenFile != "" || os.Getenv(envShimToken) != "" {
		return
	}
	if _, err := os.Stat(path); err == nil {
		s.TokenFile = path
	}
}

// options reads AFT_SHIM_TOKEN and returns the client options that present the
// credentials; a token file or CA bundle that does not load is a usage error naming it.
// Call it after parseFlags.
func (s *shimCreds) options() ([]client.Option, error) {
	s.Token = os.Getenv(envShimToken)
	opts, err := s.Options()
	if err != nil {
		return nil, usage("%v", err)
	}
	return opts, nil
}

// relay reports, after options, whether the functions behind a middleware call the shim
// through its relay (middleware.Config.RelayURL). They do exactly when the middleware
// presents something a function would otherwise need: a token, or a CA bundle of its own
// for an https shim.
// Without either, nothing changes for existing users: X-Aft-Shim names the shim's node,
// and functions call it directly, a hop shorter. A function then needs nothing it does
// not have, since a shim that wants no token and has a certificate the system trusts can
// be called as it is.
func (s *shimCreds) relay() bool {
	return s.TokenFile != "" || s.Token != "" || s.CAFile != ""
}

// openfaasTokenFile is where OpenFaaS mounts a secret named aft-shim-token (faas-cli
// secret create aft-shim-token); `aft provider openfaas` reads its token there when
// neither --shim-token-file nor AFT_SHIM_TOKEN gives one.
const openfaasTokenFile = "/var/openfaas/secrets/aft-shim-token"

// relayFlags are the flags of where the middleware's relay listens, for the programs
// that run the middleware (aft proxy, aft provider openfaas); they matter only when the
// credentials say to relay.
type relayFlags struct {
	Listen string // host:port to listen on
	URL    string // the base URL functions reach it at; "" derives one from the address
}

// register adds --relay-listen and --relay-url to fs, with listen the default address.
func (r *relayFlags) register(fs *flag.FlagSet, listen, where string) {
	fs.StringVar(&r.Listen, "relay-listen", listen, "with a shim token or CA: the address of the relay through which functions call the shim without the token ("+where+")")
	fs.StringVar(&r.URL, "relay-url", "", "with a shim token or CA: the base URL functions reach the relay at (default: http:// and the address it listens on, a wildcard replaced by this host's first non-loopback address)")
}

// listen listens on r.Listen and returns the listener and the relay's base URL.
func (r *relayFlags) listen() (net.Listener, string, error) {
	if _, _, err := net.SplitHostPort(r.Listen); err != nil {
		return nil, "", usage("--relay-listen %q: want host:port: %v", r.Listen, err)
	}
	if r.URL != "" {
		u, err := api.BaseURL(r.URL) // an IPv6 $(POD_IP) gets its brackets
		if err != nil {
			return nil, "", usage("--relay-url %v", err)
		}
		r.URL = u
	}
	ln, err := net.Listen("tcp", r.Listen)
	if err != nil {
		return nil, "", fmt.Errorf("relay: listen on %s: %w (pick another with --relay-listen)", r.Listen, err)
	}
	if r.URL != "" {
		return ln, r.URL, nil
	}
	a := ln.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		if host, err = hostAddress(); err != nil {
			ln.Close()
			return nil, "", fmt.Errorf("relay: %w; give --relay-url", err)
		}
	}
	return ln, "http://" + net.JoinHostPort(host, fmt.Sprint(a.Port)), nil
}

// hostAddress returns this host's first non-loopback unicast IP address: in a Kubernetes
// pod, the pod's IP, which the functions' pods reach.
func hostAddress() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("list this host's addresses: %w", err)
	}
	var v6 string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || !n.IP.IsGlobalUnicast() {
			continue
		}
		if n.IP.To4() != nil {
			return n.IP.String(), nil
		}
		if v6 == "" {
			v6 = n.IP.String()
		}
	}
	if v6 != "" {
		return v6, nil
	}
	return "", errors.New("this host has no address but loopback for functions to reach the relay at")
}
