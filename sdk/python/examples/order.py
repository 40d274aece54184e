"""Order: function A of a two-function composition.

POST {"order": "42", "item": "widget"} writes orders/42 and calls the reserve function at
$RESERVE_URL, which joins the same transaction and writes reservations/42: both writes
commit together or not at all.
Run behind the aft middleware: PORT=8080 RESERVE_URL=http://... python3 order.py
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # a deployed function ships aft.py alongside
import aft  # noqa: E402

RESERVE_URL = os.environ["RESERVE_URL"]


class Order(BaseHTTPRequestHandler):
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
            txn.put("orders/" + order, item)
            resp = txn.call(RESERVE_URL, {"order": order, "item": item})  # reserve joins this transaction
        except aft.AftError as e:
            return self.answer(502 if e.code == "call_failed" else 500, {"error": str(e)})
        if not resp.ok:
            return self.answer(502, {"error": "reserve answered %d: %s" % (resp.status, resp.text)})
        self.answer(200, {"order": order, "status": "placed"})

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    server = ThreadingHTTPServer((os.environ.get("HOST", ""), int(os.environ.get("PORT", "8080"))), Order)
    print("order: listening on port %d, reserve at %s" % (server.server_address[1], RESERVE_URL), flush=True)
    server.serve_forever()
