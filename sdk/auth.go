package sdk

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/aft-shim/aft/api"
	"github.com/aft-shim/aft/client"
)

// The environment variables that say how to reach a shim run with --auth-file or TLS
// (cli.md, "Callers and TLS"), read by New for what no Option says.
const (
	// EnvToken holds the token to present (Authorization: Bearer).
	EnvToken = "AFT_SHIM_TOKEN"
	// EnvTokenFile names a file that holds the token, read when a Txn is made, surrounding
	// whitespace trimmed.
	EnvTokenFile = "AFT_SHIM_TOKEN_FILE"
	// EnvCA names a PEM file of the CA certificates that an https:// shim's certificate
	// is checked against, instead of the system's.
	EnvCA = "AFT_SHIM_CA"
)

// ErrUnauthorized matches the answer 401 unauthorized of a shim run with --auth-file: the
// Txn presented no token, or one the shim does not know. The error says where the token
// came from, never the token.
var ErrUnauthorized = &client.Error{Code: api.CodeUnauthorized}

// access is how a Txn reaches its shim, as its options say; New fills in the rest from the
// environment (shimAccess).
type access struct {
	token     string // WithToken
	tokenFile string // WithTokenFile
	ca        string // WithCA
}

// WithToken makes the Txn present token to the shim on every request (Authorization:
// Bearer), ahead of WithTokenFile and the environment. A function behind the aft
// middleware needs none: the middleware adds its own to the calls it relays. An empty token
// is none given.
func WithToken(token string) Option { return func(t *Txn) { t.access.token = token } }

// WithTokenFile makes the Txn present the token held in the file at path (read by New,
// surrounding whitespace trimmed), ahead of AFT_SHIM_TOKEN and AFT_SHIM_TOKEN_FILE.
func WithTokenFile(path string) Option { return func(t *Txn) { t.access.tokenFile = path } }

// WithCA makes the Txn check the certificate of an https:// shim against the CA
// certificates in the PEM file at path instead of the system's, ahead of AFT_SHIM_CA. The
// bundle is followed as its file changes (client.CATransport). It cannot go with WithHTTPClient, whose
// transport has the say over TLS.
func WithCA(path string) Option { return func(t *Txn) { t.access.ca = path } }

// shimAccess returns the client options that reach shimURL as a and then getenv say, and
// where the token came from ("" for no token), for error messages: the token of
// WithToken, else of WithTokenFile, else AFT_SHIM_TOKEN, else of the file AFT_SHIM_TOKEN_FILE
// names; for an https:// shim, the HTTP client that trusts the CA of WithCA, else of
// AFT_SHIM_CA, unless hc is the caller's (own). hc is the client to use otherwise.
func shimAccess(shimURL string, a access, getenv func(string) string, hc *http.Client, own bool) (opts []client.Option, from string, err error) {
	token := a.token
	switch {
	case token != "":
		from = "WithToken"
	case a.tokenFile != "":
		from = "token file " + a.tokenFile
		token, err = client.ReadToken(a.tokenFile)
	case getenv(EnvToken) != "":
		from, token = EnvToken, getenv(EnvToken)
	case getenv(EnvTokenFile) != "":
		from = "token file " + getenv(EnvTokenFile) + " (" + EnvTokenFile + ")"
		token, err = client.ReadToken(getenv(EnvTokenFile))
	}
	if err != nil {
		return nil, "", fmt.Errorf("aft: %w", err)
	}

	ca := a.ca
	if ca != "" && own {
		return nil, "", errors.New("aft: WithCA and WithHTTPClient: give the CA to the HTTP client's transport")
	}
	if ca == "" && !own {
		ca = getenv(EnvCA)
	}
	if ca != "" && strings.HasPrefix(shimURL, "https://") {
		if hc, err = caClient(ca); err != nil {
			return nil, "", fmt.Errorf("aft: %w", err)
		}
	}
	return []client.Option{client.WithHTTPClient(hc), client.WithToken(token)}, from, nil
}

// caClients holds, by the path of a CA bundle, the *http.Client that trusts it: one
// connection pool for all Txns of an https:// shim, as defaultHTTP is for the others.
var caClients sync.Map

// caClient returns the HTTP client of https:// shims whose certificates the CA bundle at
// path signs. Like client.WithTLS's, its transport never resends (client.NoResend).
func caClient(path string) (*http.Client, error) {
	if hc, ok := caClients.Load(path); ok {
		return hc.(*http.Client), nil
	}
	ht, err := client.CATransport(path, nil)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: client.NoResend(ht), Timeout: defaultHTTP.Timeout}
	got, _ := caClients.LoadOrStore(path, hc)
	return got.(*http.Client), nil
}

// explain returns err of a call to the shim, prefixed "aft: ", with what to do about a
// refused token or an unknown certificate authority.
func (t *Txn) explain(err error) error {
	var ce *client.Error
	unauthorized := errors.Is(err, ErrUnauthorized) || errors.As(err, &ce) && ce.StatusCode == http.StatusUnauthorized
	var unknownCA x509.UnknownAuthorityError
	switch {
	case unauthorized && t.tokenFrom == "":
		return fmt.Errorf("aft: %w (the shim wants a token: set %s or %s, or use sdk.WithToken)", err, EnvToken, EnvTokenFile)
	case unauthorized:
		return fmt.Errorf("aft: %w (the shim does not know the token of %s: set %s or %s to one of its tokens)", err, t.tokenFrom, EnvToken, EnvTokenFile)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("aft: %w (set %s to the file of the CA that signed the shim's certificate)", err, EnvCA)
	}
	return fmt.Errorf("aft: %w", err)
}
