"""Reserve: function B of a two-function composition.

POST {"order": "42", "item": "widget"} writes reservations/42. Called by order.py with the
transaction headers, it runs in the caller's transaction.
Run behind the aft middleware: PORT=8081 python3 reserve.py
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # a deployed function ships aft.py alongside
import aft  # noqa: E402


class Reserve(BaseHTTPRequestHandler):
    def do_POST(self):
        try:
            req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            order, item = str(req["order"]), str(req["item"])
        except (ValueError, KeyError, TypeError):
            return self.answer(400, {"error": 'want {"order", "item"}'})
        try:
            txn = aft.Txn.from_headers(self.headers)
        except aft.AftError as e:
            return self.answer(400, {"error": str(e)})
        try:
            txn.put("reservations/" + order, item)
        except aft.AftError as e:
            return self.answer(500, {"error": str(e)})
        self.answer(200, {"order": order, "reserved": item})

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    server = ThreadingHTTPServer((os.environ.get("HOST", ""), int(os.environ.get("PORT", "8080"))), Reserve)
    print("reserve: listening on port %d" % server.server_address[1], flush=True)
    server.serve_forever()
