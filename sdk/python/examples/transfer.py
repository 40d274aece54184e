"""Transfer: an example function that reads two keys and writes two.

POST {"from": "alice", "to": "bob", "amount": 10} moves 10 from accounts/alice to
accounts/bob (decimal balances; a missing account holds 0) in the invocation's transaction.
Run behind the aft middleware: PORT=8080 python3 transfer.py
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # a deployed function ships aft.py alongside
import aft  # noqa: E402


class Transfer(BaseHTTPRequestHandler):
    def do_POST(self):
        try:
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            src, dst, amount = req["from"], req["to"], int(req["amount"])
            if not (src and dst and src != dst and amount > 0):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"error": 'want {"from", "to", "amount"}: two accounts and a positive amount'})
        try:
            txn = aft.Txn.from_headers(self.headers)
        except aft.AftError as e:
            return self.answer(400, {"error": str(e)})  # not under the middleware
        try:
            ka, kb = "accounts/" + src, "accounts/" + dst
            got = txn.get_many([ka, kb])  # both reads in one round trip
            a, b = int(got.get(ka) or 0), int(got.get(kb) or 0)
            if a < amount:
                return self.answer(409, {"error": "insufficient funds: %s holds %d" % (src, a)})
            txn.put_many({ka: str(a - amount), kb: str(b + amount)})  # both writes in one
        except aft.AftError as e:
            return self.answer(500, {"error": str(e)})  # 5xx: the middleware aborts and retries
        self.answer(200, {src: a - amount, dst: b + amount})

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    server = ThreadingHTTPServer((os.environ.get("HOST", ""), int(os.environ.get("PORT", "8080"))), Transfer)
    print("transfer: listening on port %d" % server.server_address[1], flush=True)
    server.serve_forever()
