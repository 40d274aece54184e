package client

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Credentials are what a program presents to a shim run with --auth-file and TLS (cli.md:
// --shim-token-file FILE or AFT_SHIM_TOKEN, and --shim-ca FILE). Options turns them into
// client Options: the one place that reads token files and CA bundles. The zero value
// presents nothing.
type Credentials struct {
	// TokenFile is a file that holds the token, surrounded by whitespace or not. It is read
	// again when it changes (see FileToken): a Kubernetes Secret update swaps the file
	// under a running program.
	TokenFile string
	// Token is the token itself (AFT_SHIM_TOKEN). Give TokenFile or Token, not both.
	Token string
	// CAFile is a PEM bundle of the certificate authorities that sign the shim's
	// certificate, for an https:// shim whose certificate the system does not trust. It is
	// followed as it changes (CATransport).
	CAFile string
}

// IsZero reports whether c presents nothing.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// Options returns the client options that present c: WithTokenSource of its FileToken, or
// WithToken, and WithTLS with its CA bundle. An error names the file and what to do.
func (c Credentials) Options() ([]Option, error) {
	var opts []Option
	switch {
	case c.TokenFile != "" && c.Token != "":
		return nil, errors.New("shim token: give a token file or the token itself (AFT_SHIM_TOKEN), not both")
	case c.TokenFile != "":
		f, err := OpenFileToken(c.TokenFile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, WithTokenSource(f))
	case c.Token != "":
		if err := checkToken(c.Token); err != nil {
			return nil, fmt.Errorf("shim token (AFT_SHIM_TOKEN): %w", err)
		}
		opts = append(opts, WithToken(strings.TrimSpace(c.Token)))
	}
	if c.CAFile != "" {
		rt, err := CATransport(c.CAFile, nil)
		if err != nil {
			return nil, fmt.Errorf("shim %w (give the PEM file of the CA that signed the shim's certificate)", err)
		}
		opts = append(opts, func(c *Client) { c.https = rt })
	}
	return opts, nil
}

// FileToken is a TokenSource that reads its token from a file and follows the file as it
// changes: the token presented is what the file held at most a second before. A file that
// cannot be read or holds no token for a moment (a Secret being swapped, a half-written
// file) keeps the last good token in use. It is safe for concurrent use.
type FileToken struct {
	path  string
	every time.Duration // how long a read of the file serves; tests shorten it

	mu      sync.Mutex
	token   string
	checked time.Time // when the file was last read
}

// OpenFileToken returns the FileToken of path, failing when the file does not hold a
// token now.
func OpenFileToken(path string) (*FileToken, error) {
	tok, err := ReadToken(path)
	if err != nil {
		return nil, err
	}
	return &FileToken{path: path, every: time.Second, token: tok, checked: time.Now()}, nil
}

// Token returns the token, reading the file again when the last read is a second old.
func (f *FileToken) Token() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := time.Now(); now.Sub(f.checked) >= f.every {
		f.checked = now
		if tok, err := ReadToken(f.path); err == nil {
			f.token = tok
		}
	}
	return f.token
}

// maxTokenFile bounds a token file: a token is a line, and a larger file is a wrong path.
const maxTokenFile = 4 << 10

// readToken returns the token in the file at path, without its surrounding whitespace.
func ReadToken(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("shim token file: %w (give the file that holds the token `aft token new` printed)", err)
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxTokenFile+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("shim token file %s: %w", path, err)
	case len(b) > maxTokenFile:
		return "", fmt.Errorf("shim token file %s is over %d bytes: give the file that holds the token alone", path, maxTokenFile)
	}
	if err := checkToken(string(b)); err != nil {
		return "", fmt.Errorf("shim token file %s: %w", path, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// checkToken checks a token, less its surrounding whitespace: not empty, one word of
// printable ASCII, as an Authorization header carries it.
func checkToken(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return errors.New("no token in it: write the token `aft token new` printed (its first line)")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("the token holds a space, control or non-ASCII byte at %d: give the token alone, on one line", i)
		}
	}
	return nil
}
