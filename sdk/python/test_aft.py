"""Tests of aft.py: python3 -m unittest (in sdk/python).

The tests against a shim run when AFT_TEST_SHIM (its base URL) and AFT_TEST_TXN (a running
transaction) are set, as the Go test sdk/lang_test.go does; it then commits the transaction
and checks the writes. AFT_TEST_PREFIX prefixes the keys written; AFT_TEST_SEED is the
value that prefix+"seed" holds before the transaction, when set. When the shim wants a
token, AFT_SHIM_TOKEN holds it; AFT_TEST_TLS_SHIM is then the same shim over HTTPS, with a
certificate of the CA in the file AFT_TEST_CA.
"""

import contextlib
import email.message
import http.server
import json
import os
import ssl
import tempfile
import threading
import unittest
import unittest.mock
import urllib.parse

import aft

SHIM = os.environ.get("AFT_TEST_SHIM")
TXN = os.environ.get("AFT_TEST_TXN")
PREFIX = os.environ.get("AFT_TEST_PREFIX", "python/")
SEED = os.environ.get("AFT_TEST_SEED")
TLS_SHIM = os.environ.get("AFT_TEST_TLS_SHIM")
CA = os.environ.get("AFT_TEST_CA")

HERE = os.path.dirname(os.path.abspath(__file__))


class TestAfterHeaders(unittest.TestCase):
    def test_version_sent_back(self):
        self.assertEqual(aft.after_headers({"x-aft-version": "00000000000000ff.abc"}), {"Aft-After": "00000000000000ff.abc"})
        self.assertEqual(aft.after_headers({}), {})


class TestEscapeKey(unittest.TestCase):
    def test_shared_vectors(self):
        with open(os.path.join(HERE, "..", "testdata", "keys.json")) as f:
            vectors = json.load(f)
        self.assertGreater(len(vectors), 5)
        for v in vectors:
            key = bytes.fromhex(v["key_hex"])
            self.assertEqual(aft.escape_key(key), v["escaped"], key)
            try:
                self.assertEqual(aft.escape_key(key.decode("utf-8")), v["escaped"], key)
            except UnicodeDecodeError:
                pass  # not UTF-8: only a bytes key can hold it

    def test_dot_and_slash(self):
        self.assertEqual(aft.escape_key("../a.b"), "%2E%2E%2Fa%2Eb")


class WerkzeugLikeHeaders:
    """Case-insensitive get and items, as werkzeug's Headers have."""

    def __init__(self, pairs):
        self._pairs = pairs

    def get(self, name, default=None):
        for k, v in self._pairs:
            if k.lower() == name.lower():
                return v
        return default

    def items(self):
        return list(self._pairs)


class TestFromHeaders(unittest.TestCase):
    def check(self, headers):
        txn = aft.Txn.from_headers(headers)
        self.assertEqual(txn.id, "t-1")
        self.assertEqual(txn.shim, "http://shim:7654")
        self.assertEqual(txn.headers(), {"X-Aft-Txn-Id": "t-1", "X-Aft-Shim": "http://shim:7654"})

    def test_dicts_in_any_case(self):
        self.check({"X-Aft-Txn-Id": "t-1", "X-Aft-Shim": "http://shim:7654"})
        self.check({"x-aft-txn-id": "t-1", "x-aft-shim": "http://shim:7654"})  # node, lambda
        self.check({"X-AFT-TXN-ID": "t-1", "X-Aft-SHIM": "http://shim:7654"})
        self.check({"x-aft-txn-id": ["t-1"], "x-aft-shim": ["http://shim:7654"]})  # multi-valued

    def test_http_server_message(self):
        m = email.message.Message()  # what http.server's self.headers is
        m["x-aft-txn-id"] = "t-1"
        m["X-Aft-Shim"] = "http://shim:7654"
        self.check(m)

    def test_werkzeug_like(self):
        self.check(WerkzeugLikeHeaders([("X-Aft-Txn-Id", "t-1"), ("X-Aft-Shim", "http://shim:7654")]))

    def test_wsgi_environ_and_pairs(self):
        self.check({"HTTP_X_AFT_TXN_ID": "t-1", "HTTP_X_AFT_SHIM": "http://shim:7654", "PATH_INFO": "/"})
        self.check([("x-aft-txn-id", "t-1"), (b"X-Aft-Shim", b"http://shim:7654")])

    def test_missing(self):
        for headers, missing in [
            ({}, "X-Aft-Txn-Id and X-Aft-Shim"),
            (None, "X-Aft-Txn-Id and X-Aft-Shim"),
            ({"X-Aft-Shim": "http://shim:7654"}, "X-Aft-Txn-Id"),
            ({"X-Aft-Txn-Id": "t-1", "X-Aft-Shim": ""}, "X-Aft-Shim"),
        ]:
            with self.assertRaises(aft.AftError) as cm:
                aft.Txn.from_headers(headers)
            self.assertEqual(cm.exception.code, "no_txn")
            self.assertIn("no %s header" % missing, str(cm.exception))
            self.assertIn("not running under the aft middleware", str(cm.exception))

    def test_bad_shim_url(self):
        with self.assertRaises(aft.AftError) as cm:
            aft.Txn.from_headers({"X-Aft-Txn-Id": "t-1", "X-Aft-Shim": "shim:7654"})
        self.assertEqual(cm.exception.code, "bad_shim_url")


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers what it got as JSON, with the status asked in the X-Status header."""

    def do_any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        out = json.dumps({
            "method": self.command,
            "txn": self.headers.get_all("X-Aft-Txn-Id"),
            "shim": self.headers.get_all("X-Aft-Shim"),
            "custom": self.headers.get("X-Custom"),
            "auth": self.headers.get("Authorization"),
            "type": self.headers.get("Content-Type"),
            "body": body.decode("utf-8"),
        }).encode()
        self.send_response(int(self.headers.get("X-Status") or 200))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_any

    def log_message(self, *args):
        pass


class TestCall(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        cls.url = "http://127.0.0.1:%d/fn" % cls.server.server_address[1]
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.txn = aft.Txn("t-1", "http://shim:7654")

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def test_propagates_headers(self):
        r = self.txn.call(self.url, b"raw", headers={"X-Custom": "kept", "x-aft-txn-id": "stale"})
        self.assertTrue(r.ok)
        self.assertEqual(r.status, 200)
        got = r.json()
        self.assertEqual(got["method"], "POST")
        self.assertEqual(got["txn"], ["t-1"])
        self.assertEqual(got["shim"], ["http://shim:7654"])
        self.assertEqual(got["custom"], "kept")
        self.assertEqual(got["body"], "raw")

    def test_json_and_method(self):
        got = self.txn.call(self.url, {"order": 42}, method="PUT").json()
        self.assertEqual(got["method"], "PUT")
        self.assertEqual(got["type"], "application/json")
        self.assertEqual(json.loads(got["body"]), {"order": 42})
        got = self.txn.call(self.url, method="GET").json()
        self.assertEqual((got["method"], got["body"], got["txn"]), ("GET", "", ["t-1"]))

    def test_error_status_is_returned(self):
        r = self.txn.call(self.url, "x", headers={"X-Status": "503"})
        self.assertFalse(r.ok)
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json()["txn"], ["t-1"])

    def test_unreachable(self):
        with self.assertRaises(aft.AftError) as cm:
            self.txn.call("http://127.0.0.1:1/", timeout=5)
        self.assertEqual(cm.exception.code, "call_failed")
        with self.assertRaises(aft.AftError) as cm:
            aft.Txn("t-1", "http://127.0.0.1:1", timeout=5).get("k")
        self.assertEqual(cm.exception.code, "shim_unreachable")


@contextlib.contextmanager
def shim_env(env=None):
    """os.environ with AFT_SHIM_TOKEN, AFT_SHIM_TOKEN_FILE and AFT_SHIM_CA as env has them
    (unset when absent), restored after."""
    with unittest.mock.patch.dict(os.environ):
        for k in (aft.ENV_TOKEN, aft.ENV_TOKEN_FILE, aft.ENV_CA):
            os.environ.pop(k, None)
        os.environ.update(env or {})
        yield


def token_file(test, content):
    """The path of a new file holding content, removed when test ends."""
    f = tempfile.NamedTemporaryFile("w", suffix=".token", delete=False)
    with f:
        f.write(content)
    test.addCleanup(os.remove, f.name)
    return f.name


class TokenHandler(http.server.BaseHTTPRequestHandler):
    """A shim that answers a read with the Authorization header it got, and 401 as a shim
    run with --auth-file does to a request with no token or one holding "wrong"."""

    def do_GET(self):
        auth = self.headers.get("Authorization")
        if auth and "wrong" not in auth:
            status, ctype, out = 200, "application/octet-stream", auth.encode()
        else:
            status, ctype = 401, "application/json"
            out = json.dumps({"error": "missing or unknown token", "code": "unauthorized"}).encode()
        self.send_response(status)
        if status == 401:
            self.send_header("WWW-Authenticate", "Bearer")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class TestToken(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TokenHandler)
        cls.shim = "http://127.0.0.1:%d" % cls.server.server_address[1]
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def test_precedence(self):
        for name, kwargs, env, want in [
            ("argument before all", {"token": "a"}, {aft.ENV_TOKEN: "b"}, "a"),
            ("file argument before the environment", {"token_file": token_file(self, " c\n")}, {aft.ENV_TOKEN: "b"}, "c"),
            ("AFT_SHIM_TOKEN before AFT_SHIM_TOKEN_FILE", {}, {aft.ENV_TOKEN: "b", aft.ENV_TOKEN_FILE: "/nonexistent"}, "b"),
            ("AFT_SHIM_TOKEN_FILE, trimmed", {}, {aft.ENV_TOKEN_FILE: token_file(self, "\n\td \n")}, "d"),
        ]:
            with self.subTest(name), shim_env(env):
                self.assertEqual(aft.Txn("t-1", self.shim, **kwargs).get("k"), b"Bearer " + want.encode())

    def test_no_token(self):
        with shim_env():
            with self.assertRaises(aft.AftError) as cm:
                aft.Txn("t-1", self.shim).get("k")
        self.assertEqual((cm.exception.status, cm.exception.code), (401, "unauthorized"))
        self.assertIn("the shim wants a token: set AFT_SHIM_TOKEN or AFT_SHIM_TOKEN_FILE", str(cm.exception))

    def test_token_never_shown(self):
        with shim_env():
            txn = aft.Txn("t-1", self.shim, token="wrong-secret")
            with self.assertRaises(aft.AftError) as cm:
                txn.get("k")
        self.assertEqual(cm.exception.code, "unauthorized")
        self.assertIn("does not know the token of the token argument", str(cm.exception))
        for text in (str(cm.exception), repr(cm.exception), repr(txn)):
            self.assertNotIn("secret", text)

    def test_bad_files(self):
        with shim_env():
            for kwargs, code in [
                ({"token_file": "/nonexistent/token"}, "bad_token_file"),
                ({"token_file": token_file(self, " \n")}, "bad_token_file"),
                ({"ca": "/nonexistent/ca.pem"}, "bad_ca"),
            ]:
                with self.subTest(kwargs), self.assertRaises(aft.AftError) as cm:
                    aft.Txn("t-1", "https://shim:7654", **kwargs)
                self.assertEqual(cm.exception.code, code)
            aft.Txn("t-1", "http://shim:7654", ca="/nonexistent/ca.pem")  # a CA is for https only

    def test_call_sends_no_token(self):
        echo = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        threading.Thread(target=echo.serve_forever, daemon=True).start()
        try:
            txn = aft.Txn("t-1", self.shim, token="secret")
            got = txn.call("http://127.0.0.1:%d/fn" % echo.server_address[1], b"x").json()
        finally:
            echo.shutdown()
            echo.server_close()
        self.assertIsNone(got["auth"])


@unittest.skipUnless(SHIM and TXN, "set AFT_TEST_SHIM and AFT_TEST_TXN to test against a shim")
class TestShim(unittest.TestCase):
    def setUp(self):
        self.txn = aft.Txn.from_headers({"x-aft-txn-id": TXN, "x-aft-shim": SHIM})

    def test_seed_visible(self):
        if SEED is None:
            self.skipTest("AFT_TEST_SEED not set")
        self.assertEqual(self.txn.get(PREFIX + "seed"), SEED.encode())

    def test_put_get(self):
        self.txn.put(PREFIX + "bytes", b"written by the SDK")
        self.assertEqual(self.txn.get(PREFIX + "bytes"), b"written by the SDK")
        self.txn.put(PREFIX + "str", "h\u00e9llo")
        self.assertEqual(self.txn.get(PREFIX + "str"), "h\u00e9llo".encode())
        self.txn.put(PREFIX + "empty", b"")
        self.assertEqual(self.txn.get(PREFIX + "empty"), b"")

    def test_odd_keys(self):
        self.txn.put(PREFIX + "weird/ key.\u00e9%~_-?#", "weird")
        self.assertEqual(self.txn.get(PREFIX + "weird/ key.\u00e9%~_-?#"), b"weird")
        key = PREFIX.encode() + b"bin\xff"
        self.txn.put(key, b"\x00\x01\xfe")
        self.assertEqual(self.txn.get(key), b"\x00\x01\xfe")

    def test_missing_and_delete(self):
        self.assertIsNone(self.txn.get(PREFIX + "missing"))
        self.txn.put(PREFIX + "deleted", b"x")
        self.txn.delete(PREFIX + "deleted")
        self.assertIsNone(self.txn.get(PREFIX + "deleted"))

    def test_many(self):
        self.txn.put_many({PREFIX + "many/a": "1", PREFIX + "many/b": b"2", PREFIX + "many/empty": b""})
        got = self.txn.get_many([PREFIX + "many/a", PREFIX + "many/b", PREFIX + "many/empty", PREFIX + "missing"])
        self.assertEqual(got, {PREFIX + "many/a": b"1", PREFIX + "many/b": b"2", PREFIX + "many/empty": b""})
        with self.assertRaises(aft.AftError) as cm:
            self.txn.put_many({"": b"x"})
        self.assertEqual((cm.exception.status, cm.exception.code), (400, "bad_key"))
        with self.assertRaises(aft.AftError) as cm:
            self.txn.get_many([b"\xff"])
        self.assertEqual(cm.exception.code, "bad_key")
        with self.assertRaises(aft.AftError) as cm:
            aft.Txn("no-such-txn", SHIM).get_many(["k"])
        self.assertEqual((cm.exception.status, cm.exception.code), (404, "txn_not_found"))

    def test_shim_errors(self):
        with self.assertRaises(aft.AftError) as cm:
            aft.Txn("no-such-txn", SHIM).get("k")
        self.assertEqual((cm.exception.status, cm.exception.code), (404, "txn_not_found"))
        self.assertIn("404 txn_not_found", str(cm.exception))
        with self.assertRaises(aft.AftError) as cm:
            self.txn.put("", b"x")
        self.assertEqual((cm.exception.status, cm.exception.code), (400, "bad_key"))


@unittest.skipUnless(SHIM and TXN and TLS_SHIM and CA, "set AFT_TEST_TLS_SHIM, AFT_TEST_CA and AFT_SHIM_TOKEN too to test a shim's token and TLS")
class TestShimAuth(unittest.TestCase):
    token = os.environ.get(aft.ENV_TOKEN)

    def read_seed(self, shim, **kwargs):
        got = aft.Txn(TXN, shim, **kwargs).get(PREFIX + "seed")
        if SEED is not None:
            self.assertEqual(got, SEED.encode())

    def test_token_from_env(self):
        with shim_env({aft.ENV_TOKEN: self.token}):
            self.read_seed(SHIM)

    def test_no_token(self):
        with shim_env(), self.assertRaises(aft.AftError) as cm:
            self.read_seed(SHIM)
        self.assertEqual((cm.exception.status, cm.exception.code), (401, "unauthorized"))
        self.assertIn("set AFT_SHIM_TOKEN or AFT_SHIM_TOKEN_FILE", str(cm.exception))

    def test_unknown_token(self):
        with shim_env({aft.ENV_TOKEN: "wrong-" + self.token}), self.assertRaises(aft.AftError) as cm:
            self.read_seed(SHIM)
        self.assertEqual(cm.exception.code, "unauthorized")
        self.assertIn("does not know the token of AFT_SHIM_TOKEN", str(cm.exception))
        self.assertNotIn(self.token, str(cm.exception))

    def test_https_with_ca(self):
        with shim_env({aft.ENV_TOKEN: self.token, aft.ENV_CA: CA}):
            self.read_seed(TLS_SHIM)
        with shim_env({aft.ENV_TOKEN_FILE: token_file(self, self.token + "\n")}):
            self.read_seed(TLS_SHIM, ca=CA)

    def test_https_ca_followed(self):
        """The CA bundle is followed as its file changes: a bundle of the shim's own
        certificate (no CA) is refused, the same file then holding the CA is trusted by the
        next Txn, and a file emptied for a moment keeps the last good bundle."""
        url = urllib.parse.urlsplit(TLS_SHIM)
        path = token_file(self, ssl.get_server_certificate((url.hostname, url.port)))
        with shim_env({aft.ENV_TOKEN: self.token}):
            with self.assertRaises(aft.AftError) as cm:
                self.read_seed(TLS_SHIM, ca=path)
            self.assertIn("CERTIFICATE_VERIFY_FAILED", str(cm.exception))
            with open(CA) as src, open(path, "w") as dst:
                dst.write(src.read())
            os.utime(path, ns=(0, os.stat(path).st_mtime_ns + 10**9))  # a change the stamp sees whatever the clock's grain
            self.read_seed(TLS_SHIM, ca=path)
            open(path, "w").close()
            self.read_seed(TLS_SHIM, ca=path)

    def test_https_without_ca(self):
        with shim_env({aft.ENV_TOKEN: self.token}), self.assertRaises(aft.AftError) as cm:
            self.read_seed(TLS_SHIM)
        self.assertEqual(cm.exception.code, "shim_unreachable")
        self.assertIn("CERTIFICATE_VERIFY_FAILED", str(cm.exception))
        self.assertIn("set AFT_SHIM_CA to the file of the CA", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
