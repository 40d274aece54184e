"""aft: read and write through the aft shim from a Python function (standard library only).

The aft middleware begins a transaction for each invocation and hands the function two
headers: X-Aft-Txn-Id (the transaction id of this attempt) and X-Aft-Shim (the base URL of
the shim). Txn.from_headers reads them; the Txn then reads and writes keys in that
transaction. The function never commits or aborts: the middleware commits when it answers
2xx and aborts (and maybe retries) otherwise, so on an AftError answer 5xx.

    txn = aft.Txn.from_headers(self.headers)      # http.server, flask.request.headers, a dict...
    balance = txn.get("accounts/alice")           # bytes, or None when the key does not exist
    txn.put("accounts/alice", b"90")              # bytes or str (UTF-8)
    txn.delete("carts/alice")
    got = txn.get_many(["accounts/alice", "accounts/bob"])   # one round trip: {key: bytes}
    txn.put_many({"accounts/alice": b"60", "accounts/bob": b"40"})
    resp = txn.call(os.environ["B_URL"], data={"order": 42})  # B joins this transaction

The middleware relays a function's calls to the shim and presents its own token, so a
function behind it needs none. A program that reaches a shim run with --auth-file directly
presents a token: Txn's token= or token_file=, else the environment's AFT_SHIM_TOKEN, else
the file that AFT_SHIM_TOKEN_FILE names; and checks an https:// shim's certificate against
the CA bundle of ca= or AFT_SHIM_CA. A missing or unknown token raises AftError with code
"unauthorized".
"""

import base64
import json
import os
import ssl
import threading
import urllib.error
import urllib.request

__all__ = ["Txn", "AftError", "Response", "escape_key", "after_headers", "TXN_HEADER", "SHIM_HEADER",
           "VERSION_HEADER", "AFTER_HEADER", "MAX_BATCH_OPS", "ENV_TOKEN", "ENV_TOKEN_FILE", "ENV_CA"]

TXN_HEADER = "X-Aft-Txn-Id"
SHIM_HEADER = "X-Aft-Shim"
# Session order over several shim nodes: a committed answer of the middleware carries its
# commit's version in VERSION_HEADER; a follow-up request that sends it back in
# AFTER_HEADER runs in a transaction that sees that commit, on whichever node it begins.
VERSION_HEADER = "X-Aft-Version"
AFTER_HEADER = "Aft-After"


def after_headers(answer_headers):
    """The headers of a follow-up request that must see the commit of an earlier answer.

    answer_headers are the earlier answer's headers (any mapping with get, or a Response's);
    without a version in them (the answer was not a commit) it returns {}.
    """
    version = _header(answer_headers, VERSION_HEADER)
    return {AFTER_HEADER: version} if version else {}

# The most ops one batch of the shim's API holds; get_many and put_many send more in several.
MAX_BATCH_OPS = 1000

# The environment variables that say how to reach a shim run with --auth-file or TLS, read
# when a Txn is made for what its arguments do not say: the token to present
# (Authorization: Bearer), a file that holds it (surrounding whitespace trimmed), and a PEM
# file of the CA certificates that an https:// shim's certificate is checked against.
ENV_TOKEN = "AFT_SHIM_TOKEN"
ENV_TOKEN_FILE = "AFT_SHIM_TOKEN_FILE"
ENV_CA = "AFT_SHIM_CA"

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~-")


class AftError(Exception):
    """An error of the shim, of a call, or a missing transaction.

    status is the HTTP status of the shim's answer (None when there was no answer), code
    its stable snake_case code, such as "txn_not_found", "committed" or "fenced";
    "unauthorized" when the shim wants a token that it was not given; "no_txn" when the
    function is not running under the middleware; "bad_token_file" or "bad_ca" when a token
    file or CA bundle does not read; "shim_unreachable" or "call_failed" when no answer came.
    """

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __str__(self):
        if self.status is not None:
            return "aft: shim answered %d %s: %s" % (self.status, self.code, self.message)
        return "aft: " + self.message


class Response:
    """The answer of a called function: status, headers and body (bytes)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self):
        """Whether the status is 2xx."""
        return 200 <= self.status < 300

    @property
    def text(self):
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", "replace")

    def json(self):
        """The body decoded as JSON."""
        return json.loads(self.body)

    def __repr__(self):
        return "<aft.Response %d, %d bytes>" % (self.status, len(self.body))


def escape_key(key):
    """Percent-encode a key (str, as UTF-8, or bytes) the way the Go client does: every
    byte but A-Za-z0-9_~- becomes %XX, with uppercase hex."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    return "".join(chr(b) if b in _SAFE else "%%%02X" % b for b in bytes(key))


def _header(headers, name):
    """Look name up in headers, whatever their kind, ignoring case; None when absent."""
    if headers is None:
        return None
    value = None
    get = getattr(headers, "get", None)
    if callable(get):
        value = get(name)  # case-insensitive for http.server, werkzeug, requests, django
    if value is None:
        lname = name.lower()
        wsgi = "HTTP_" + name.upper().replace("-", "_")
        items = headers.items() if hasattr(headers, "items") else headers
        for k, v in items:
            if isinstance(k, bytes):
                k = k.decode("latin-1")
            if k.lower() == lname or k == wsgi:
                value = v
                break
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value or None


def _value(value):
    """The bytes of a value: bytes, or str sent as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8")
    return value if isinstance(value, bytes) else bytes(value)


def _text_key(key):
    """key as a str, as a batch's JSON carries keys."""
    if isinstance(key, str):
        return key
    try:
        return bytes(key).decode("utf-8")
    except UnicodeDecodeError:
        raise AftError("key %r is not UTF-8: use get and put for it" % (key,), code="bad_key") from None


def _check_result(op, key, r):
    """Raise the AftError of one op's result, if it failed."""
    if "code" in r:
        raise AftError("%s %r: %s" % (op, key, r.get("error", r["code"])), status=r.get("status"), code=r["code"])


def _token(token, token_file):
    """The token to present and where it came from (for messages, never the token itself):
    token, else the file token_file, else ENV_TOKEN, else the file ENV_TOKEN_FILE names;
    (None, None) for none."""
    if token:
        return token, "the token argument"
    if token_file:
        return _read_token(token_file), "token file %s" % token_file
    if os.environ.get(ENV_TOKEN):
        return os.environ[ENV_TOKEN], ENV_TOKEN
    path = os.environ.get(ENV_TOKEN_FILE)
    if path:
        return _read_token(path), "token file %s (%s)" % (path, ENV_TOKEN_FILE)
    return None, None


def _read_token(path):
    """The token in the file at path, without surrounding whitespace."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except (OSError, UnicodeDecodeError) as e:
        raise AftError("read the token file %s: %s" % (path, e), code="bad_token_file") from None
    if not token:
        raise AftError("the token file %s is empty" % path, code="bad_token_file")
    return token


_ssl_contexts = {}  # CA bundle path -> (the file's size and mtime, its SSL context)
_ssl_lock = threading.Lock()


def _ssl_context(cafile):
    """An SSL context that trusts the CA bundle at cafile alone. The file is followed as it
    changes (a CA rotation): a Txn made after it changed trusts the new bundle, and a file
    that does not load (half written) keeps the last good bundle in use."""
    try:
        st = os.stat(cafile)
        stamp = (st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = None
    with _ssl_lock:
        last = _ssl_contexts.get(cafile)
        if last is not None and last[0] == stamp:
            return last[1]
        try:
            ctx = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as e:
            if last is not None:
                return last[1]
            raise AftError("read the CA bundle %s: %s" % (cafile, e), code="bad_ca") from None
        _ssl_contexts[cafile] = (stamp, ctx)
        return ctx


def _unreachable_hint(reason):
    """What to do about the reason a shim was not reached, or ""."""
    if isinstance(reason, ssl.SSLCertVerificationError):
        return " (set %s to the file of the CA that signed the shim's certificate)" % ENV_CA
    return ""


def _body(data, headers):
    """Bytes of data (bytes, str, or a JSON-able object), adding a Content-Type for JSON."""
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return json.dumps(data).encode("utf-8")


class Txn:
    """The transaction of one function invocation, in the shim at shim."""

    def __init__(self, txn_id, shim, timeout=30.0, token=None, token_file=None, ca=None):
        """The transaction txn_id of the shim at shim (a base URL).

        A program that reaches a shim run with --auth-file directly presents token, else the
        token in the file token_file, else AFT_SHIM_TOKEN, else the token in the file
        AFT_SHIM_TOKEN_FILE names; and checks an https:// shim's certificate against the CA
        bundle (a PEM file) ca, else AFT_SHIM_CA, else the system's. A function behind the
        middleware needs neither. Raises AftError with code "bad_token_file" or "bad_ca" when
        the file does not read.
        """
        if not txn_id:
            raise AftError("empty transaction id", code="no_txn")
        if not shim or not shim.startswith(("http://", "https://")):
            raise AftError("shim URL %r is not an http(s) URL" % (shim,), code="bad_shim_url")
        self.id = txn_id
        self.shim = shim
        self.timeout = timeout
        self._txn_url = shim.rstrip("/") + "/v1/txns/" + escape_key(txn_id)
        self._base = self._txn_url + "/keys/"
        token, self._token_from = _token(token, token_file)
        self._auth = "Bearer " + token if token else None
        ca = ca or os.environ.get(ENV_CA)
        self._ssl = _ssl_context(ca) if ca and shim.startswith("https://") else None

    @classmethod
    def from_headers(cls, headers, timeout=30.0, token=None, token_file=None, ca=None):
        """The transaction named by the X-Aft-Txn-Id and X-Aft-Shim headers of a request.

        headers may be a dict (keys in any case), the headers of http.server, flask or
        werkzeug, django's request.headers, a WSGI environ or a list of pairs. Raises
        AftError with code "no_txn" when a header is missing: the function is not running
        under the aft middleware. token, token_file and ca are as for Txn.
        """
        txn_id, shim = _header(headers, TXN_HEADER), _header(headers, SHIM_HEADER)
        missing = [n for n, v in ((TXN_HEADER, txn_id), (SHIM_HEADER, shim)) if not v]
        if missing:
            raise AftError("no %s header: not running under the aft middleware" % " and ".join(missing), code="no_txn")
        return cls(txn_id, shim, timeout=timeout, token=token, token_file=token_file, ca=ca)

    def headers(self):
        """The headers that make a called function join this transaction."""
        return {TXN_HEADER: self.id, SHIM_HEADER: self.shim}

    def get(self, key):
        """The value of key in this transaction (bytes), or None when it has no visible
        version."""
        try:
            return self._shim("GET", key)
        except AftError as e:
            if e.code == "key_not_found":
                return None
            raise

    def put(self, key, value):
        """Write value (bytes or str, sent as UTF-8) as key; others see it once the
        transaction commits."""
        self._shim("PUT", key, _value(value))

    def delete(self, key):
        """Delete key in this transaction."""
        self._shim("DELETE", key)

    def get_many(self, keys):
        """The values of keys in this transaction, in one round trip (a batch of the shim's
        API, one per MAX_BATCH_OPS keys): a dict of key -> bytes, without the keys that have
        no visible version. Keys are str (or UTF-8 bytes); use get for others."""
        keys = [_text_key(k) for k in keys]
        results = self._batch([{"op": "read", "key": k} for k in keys])
        out = {}
        for k, r in zip(keys, results):
            if r.get("code") == "key_not_found":
                continue
            _check_result("read", k, r)
            out[k] = base64.b64decode(r.get("value", ""))
        return out

    def put_many(self, items):
        """Write every key -> value of items (a dict or pairs; values as for put) in one round
        trip (a batch, one per MAX_BATCH_OPS keys). Keys are str (or UTF-8 bytes)."""
        pairs = list(items.items()) if isinstance(items, dict) else list(items)
        ops = []
        for k, v in pairs:
            ops.append({"op": "write", "key": _text_key(k), "value": base64.b64encode(_value(v)).decode("ascii")})
        for op, r in zip(ops, self._batch(ops)):
            _check_result("write", op["key"], r)

    def _batch(self, ops):
        """The results of ops, sent in batches of at most MAX_BATCH_OPS."""
        results = []
        for i in range(0, len(ops), MAX_BATCH_OPS):
            body = json.dumps({"ops": ops[i:i + MAX_BATCH_OPS]}).encode("utf-8")
            raw = self._request("POST", self._txn_url + "/batch", body, "application/json", "batch")
            results.extend(json.loads(raw)["results"])
        return results

    def call(self, url, data=None, method="POST", headers=None, timeout=None):
        """Call another function at url, which joins this transaction, and return its
        Response whatever its status (check .ok). data may be bytes, str or a JSON-able
        object (sent as JSON). Raises AftError with code "call_failed" when no answer
        came."""
        h = dict(headers or {})
        body = _body(data, h)
        for k in [k for k in h if k.lower() in (TXN_HEADER.lower(), SHIM_HEADER.lower())]:
            del h[k]
        h.update(self.headers())
        req = urllib.request.Request(url, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as e:
            with e:
                return Response(e.code, e.headers, e.read())
        except (urllib.error.URLError, OSError) as e:
            raise AftError("call %s %s: %s" % (method, url, getattr(e, "reason", e)), code="call_failed") from e

    def _shim(self, method, key, body=None):
        """One request to the shim about key; the answer's body, or AftError."""
        return self._request(method, self._base + escape_key(key), body, "application/octet-stream", "%s %r" % (method, key))

    def _request(self, method, url, body, content_type, what):
        """One request to the shim; the answer's body, or AftError naming what."""
        req = urllib.request.Request(url, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        if self._auth:
            req.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout, context=self._ssl) as resp:
                return resp.read()
        except urllib.error.HTTPError as e:
            with e:
                raw = e.read()
            try:
                j = json.loads(raw)
                message, code = j["error"], j["code"]
            except (ValueError, KeyError, TypeError):
                message, code = raw.decode("utf-8", "replace"), "http_%d" % e.code
            if e.code == 401:
                code = "unauthorized"
                message += self._unauthorized_hint()
            raise AftError("%s: %s" % (what, message), status=e.code, code=code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise AftError("shim %s unreachable: %s%s" % (self.shim, reason, _unreachable_hint(reason)),
                           code="shim_unreachable") from e

    def _unauthorized_hint(self):
        """What to do about a 401 of the shim."""
        if self._token_from is None:
            return " (the shim wants a token: set %s or %s, or pass the token argument)" % (ENV_TOKEN, ENV_TOKEN_FILE)
        return " (the shim does not know the token of %s: set %s or %s to one of its tokens)" % (
            self._token_from, ENV_TOKEN, ENV_TOKEN_FILE)

    def __repr__(self):
        return "<aft.Txn %s at %s>" % (self.id, self.shim)
