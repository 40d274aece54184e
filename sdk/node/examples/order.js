'use strict';
// Order: function A of a two-function composition.
//
// POST {"order": "42", "item": "widget"} writes orders/42 and calls the reserve function at
// $RESERVE_URL, which joins the same transaction and writes reservations/42: both writes
// commit together or not at all.
// Run behind the aft middleware: PORT=8080 RESERVE_URL=http://... node order.js
const http = require('node:http');
const { Txn, AftError } = require('../aft'); // a deployed function ships aft.js alongside

const RESERVE_URL = process.env.RESERVE_URL;
if (!RESERVE_URL) throw new Error('order: set RESERVE_URL to the URL of the reserve function');

async function order(req) {
  const { order: id, item } = JSON.parse(await readBody(req)) || {};
  if (!id || !item) return [400, { error: 'want {"order", "item"}' }];
  const txn = Txn.fromHeaders(req.headers);
  await txn.put(`orders/${id}`, String(item));
  const res = await txn.call(RESERVE_URL, { order: String(id), item: String(item) }); // reserve joins this transaction
  if (!res.ok) return [502, { error: `reserve answered ${res.status}: ${await res.text()}` }];
  return [200, { order: String(id), status: 'placed' }];
}

http.createServer(async (req, res) => {
  let status;
  let out;
  try {
    [status, out] = await order(req);
  } catch (e) {
    status = e instanceof SyntaxError || (e instanceof AftError && e.code === 'no_txn') ? 400
      : e instanceof AftError && e.code === 'call_failed' ? 502 : 500;
    out = { error: e.message };
  }
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(out));
}).listen(Number(process.env.PORT || 8080), process.env.HOST, function listening() {
  console.log(`order: listening on port ${this.address().port}, reserve at ${RESERVE_URL}`);
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
