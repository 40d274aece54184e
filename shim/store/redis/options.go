package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults of Options.
const (
	// DefaultPort is the port of an address given without one.
	DefaultPort = "6379"
	// MaxStringSize is Redis' limit on one string value (proto-max-bulk-len): 512 MiB.
	MaxStringSize = 512 << 20
	// DefaultMaxValueSize is the value size limit of Options with a zero MaxValueSize. It
	// matches the embedded store: a value of hundreds of MiB stalls a single-threaded Redis
	// for every other client while it is copied.
	DefaultMaxValueSize = 64 << 20
	// DefaultScanCount is the COUNT hint of the SCAN calls of List: about how many keys one
	// round trip returns.
	DefaultScanCount = 1000
	// DefaultClientName is the name the connections give themselves (CLIENT SETNAME), so that
	// CLIENT LIST shows which connections are the shim's.
	DefaultClientName = "aft"
)

// Options configures a Store. Fields left zero take the defaults said; ParseURL fills them
// from a redis:// or rediss:// URL.
type Options struct {
	// Addrs are the host:port of the server or, in cluster mode, of some nodes of the
	// cluster (the client finds the others). At least one is required.
	Addrs []string

	// Cluster selects Redis Cluster. It is implied by more than one address. In cluster mode
	// DB must be 0 and the Store offers no PutCreate (see the package comment).
	Cluster bool

	// DB is the database number (SELECT) on a single server.
	DB int

	// Username and Password authenticate the connections (AUTH); empty for none.
	Username, Password string

	// TLS, when not nil, makes the connections use TLS (the rediss:// scheme).
	TLS *tls.Config

	// Prefix is prepended to every key the shim uses, so that several shims (or other
	// applications) can share one database. Any string; List matches it literally. The
	// prefixes of stores sharing a database must not be prefixes of one another ("a:" sees
	// the keys of "a:b:" as its own): end each with a separator that its name lacks, as in
	// "shop:" and "cart:".
	Prefix string

	// MaxValueSize is the largest value, in bytes, that Put, Create and PutCreate accept;
	// 0 means DefaultMaxValueSize. At most MaxStringSize.
	MaxValueSize int

	// DialTimeout, ReadTimeout and WriteTimeout bound connecting and each network read and
	// write; 0 means the client's defaults (5s, 3s and the read timeout). The deadline of the
	// context of a call applies as well, whichever ends first.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration

	// MaxRetries is how many times a command is retried after a transient error (a reset
	// connection, a timeout, a LOADING reply), with exponential backoff between
	// MinRetryBackoff and MaxRetryBackoff; 0 means 3, -1 disables retries. (A refused
	// connection is retried by the connection pool, 5 times 100ms apart.)
	MaxRetries int

	// MinRetryBackoff and MaxRetryBackoff bound the backoff between retries; 0 means 8ms and
	// 512ms.
	MinRetryBackoff, MaxRetryBackoff time.Duration

	// PoolSize is the number of connections per server; 0 means 10 per CPU.
	PoolSize int

	// ClientName is the connection name (CLIENT SETNAME); "" means DefaultClientName.
	ClientName string

	// ScanCount is the COUNT hint of the SCAN calls of List; 0 means DefaultScanCount.
	ScanCount int
}

// withDefaults returns o with its zero fields set to their defaults, or an error when o
// cannot be used.
func (o Options) withDefaults() (Options, error) {
	if len(o.Addrs) == 0 {
		return o, errors.New("no address")
	}
	for _, a := range o.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return o, fmt.Errorf("address %q: %v", a, err)
		}
	}
	if len(o.Addrs) > 1 {
		o.Cluster = true
	}
	switch {
	case o.Cluster && o.DB != 0:
		return o, fmt.Errorf("database %d: Redis Cluster has database 0 only", o.DB)
	case o.DB < 0:
		return o, fmt.Errorf("database %d: want a number >= 0", o.DB)
	case o.MaxValueSize < 0 || o.MaxValueSize > MaxStringSize:
		return o, fmt.Errorf("max value size %d: want 1 to %d bytes (Redis' string limit)", o.MaxValueSize, MaxStringSize)
	case o.ScanCount < 0:
		return o, fmt.Errorf("scan count %d: want a number > 0", o.ScanCount)
	case o.MaxRetries < -1:
		return o, fmt.Errorf("max retries %d: want a number >= 0, or -1 for none", o.MaxRetries)
	case o.PoolSize < 0:
		return o, fmt.Errorf("pool size %d: want a number > 0", o.PoolSize)
	case o.DialTimeout < 0 || o.ReadTimeout < 0 || o.WriteTimeout < 0 || o.MinRetryBackoff < 0 || o.MaxRetryBackoff < 0:
		return o, errors.New("negative timeout or backoff")
	}
	if o.MaxValueSize == 0 {
		o.MaxValueSize = DefaultMaxValueSize
	}
	if o.ScanCount == 0 {
		o.ScanCount = DefaultScanCount
	}
	if o.ClientName == "" {
		o.ClientName = DefaultClientName
	}
	return o, nil
}

// String describes the store in a few words for logs and the ready line: the scheme, the
// addresses, the database and the key prefix, never the credentials. For example
// "redis 127.0.0.1:6379 db 0" or "rediss cluster 10.0.0.1:7000,10.0.0.2:7000 prefix aft:".
func (o Options) String() string {
	var b strings.Builder
	b.WriteString("redis")
	if o.TLS != nil {
		b.WriteString("s")
	}
	if o.Cluster || len(o.Addrs) > 1 {
		b.WriteString(" cluster")
	}
	b.WriteString(" " + strings.Join(o.Addrs, ","))
	if !o.Cluster && len(o.Addrs) <= 1 {
		b.WriteString(" db " + strconv.Itoa(o.DB))
	}
	if o.Prefix != "" {
		b.WriteString(" prefix " + o.Prefix)
	}
	return b.String()
}

// ParseURL parses a store URL of the forms
//
//	redis://[USER:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]
//	rediss://...                                  the same over TLS
//	redis://HOST1:PORT1,HOST2:PORT2[,...]/[?OPTIONS]  Redis Cluster, from these seed nodes
//
// PORT defaults to 6379 (but in a list of addresses give each its port) and DB to 0. OPTIONS are, all optional:
//
//	prefix=STR             key prefix (Options.Prefix), e.g. prefix=aft: (percent-encode
//	                       reserved characters)
//	cluster=true           Redis Cluster even with one seed address (e.g. a configuration
//	                       endpoint)
//	addr=HOST:PORT         one more seed address; may repeat; implies cluster mode
//	max_value_size=BYTES   the value size limit, at most 536870912 (512 MiB)
//	dial_timeout=D, read_timeout=D, write_timeout=D
//	                       network timeouts, a Go duration (1.5s) or whole seconds
//	max_retries=N, min_retry_backoff=D, max_retry_backoff=D
//	                       retries of transient network errors
//	pool_size=N            connections per server
//	client_name=STR        the connection name
//	scan_count=N           the COUNT hint of List's SCAN calls
//	skip_verify=true       rediss only: do not verify the server's certificate
//
// Unknown options are an error, so that a misspelt one does not go unnoticed. ParseURL
// touches no network.
func ParseURL(rawURL string) (Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Options{}, err
	}
	return fromURL(u)
}

func fromURL(u *url.URL) (Options, error) {
	var o Options
	switch u.Scheme {
	case "redis":
	case "rediss":
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	default:
		return o, fmt.Errorf("scheme %q: want redis or rediss", u.Scheme)
	}
	if u.Opaque != "" {
		return o, fmt.Errorf("want %s://HOST:PORT/DB", u.Scheme)
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	var err error
	if o.Addrs, err = splitAddrs(u.Host); err != nil {
		return o, err
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		if o.DB, err = strconv.Atoi(db); err != nil || o.DB < 0 {
			return o, fmt.Errorf("database %q: want a number >= 0 as the path, as in redis://HOST:PORT/0", db)
		}
	}
	if err := parseQuery(&o, u.Query()); err != nil {
		return o, err
	}
	// TLS.ServerName stays empty: the dialer takes it from the address of each connection,
	// which matters for the many nodes of a cluster.
	return o.withDefaults()
}

// splitAddrs returns the comma-separated host[:port] list of a URL as host:port addresses.
func splitAddrs(hosts string) ([]string, error) {
	if hosts == "" {
		return nil, errors.New("no host: want redis://HOST:PORT/DB")
	}
	var addrs []string
	for _, h := range strings.Split(hosts, ",") {
		a, err := hostPort(h)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}

// hostPort returns h as host:port, with DefaultPort when h has no port.
func hostPort(h string) (string, error) {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		// No port: h is a host name, an IPv4 address or a bracketed IPv6 one.
		host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), DefaultPort
	}
	if host == "" || strings.ContainsAny(host, "[]/ ") {
		return "", fmt.Errorf("address %q: want HOST or HOST:PORT", h)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("address %q: bad port", h)
	}
	return net.JoinHostPort(host, port), nil
}

// parseQuery sets the fields of o named by the options of a URL.
func parseQuery(o *Options, q map[string][]string) error {
	var errs []error
	last := func(name string) string {
		vs := q[name]
		delete(q, name)
		if len(vs) == 0 {
			return ""
		}
		return vs[len(vs)-1]
	}
	integer := func(name string) int {
		s := last(name)
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("option %s=%q: want a whole number", name, s))
		}
		return n
	}
	duration := func(name string) time.Duration {
		s := last(name)
		if s == "" {
			return 0
		}
		if n, err := strconv.Atoi(s); err == nil {
			return time.Duration(n) * time.Second
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("option %s=%q: want a duration such as 1.5s", name, s))
		}
		return d
	}
	boolean := func(name string) bool {
		switch s := last(name); s {
		case "", "false", "0":
			return false
		case "true", "1":
			return true
		default:
			errs = append(errs, fmt.Errorf("option %s=%q: want true or false", name, s))
			return false
		}
	}

	o.Prefix = last("prefix")
	o.Cluster = boolean("cluster")
	for _, a := range q["addr"] {
		addr, err := hostPort(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("option addr: %w", err))
		}
		o.Addrs = append(o.Addrs, addr)
	}
	delete(q, "addr")
	o.MaxValueSize = integer("max_value_size")
	o.DialTimeout = duration("dial_timeout")
	o.ReadTimeout = duration("read_timeout")
	o.WriteTimeout = duration("write_timeout")
	o.MaxRetries = integer("max_retries")
	o.MinRetryBackoff = duration("min_retry_backoff")
	o.MaxRetryBackoff = duration("max_retry_backoff")
	o.PoolSize = integer("pool_size")
	o.ClientName = last("client_name")
	o.ScanCount = integer("scan_count")
	if _, ok := q["skip_verify"]; ok {
		skip := boolean("skip_verify")
		if o.TLS == nil {
			errs = append(errs, errors.New("option skip_verify: only with rediss://"))
		} else {
			o.TLS.InsecureSkipVerify = skip
		}
	}
	if len(q) > 0 {
		var names []string
		for name := range q {
			names = append(names, name)
		}
		slices.Sort(names)
		errs = append(errs, fmt.Errorf("unknown option %s", strings.Join(names, ", ")))
	}
	return errors.Join(errs...)
}
