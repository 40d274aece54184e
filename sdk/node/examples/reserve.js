'use strict';
// Reserve: function B of a two-function composition.
//
// POST {"order": "42", "item": "widget"} writes reservations/42. Called by order.js with
// the transaction headers, it runs in the caller's transaction.
// Run behind the aft middleware: PORT=8081 node reserve.js
const http = require('node:http');
const { Txn, AftError } = require('../aft'); // a deployed function ships aft.js alongside

async function reserve(req) {
  const { order: id, item } = JSON.parse(await readBody(req)) || {};
  if (!id || !item) return [400, { error: 'want {"order", "item"}' }];
  const txn = Txn.fromHeaders(req.headers);
  await txn.put(`reservations/${id}`, String(item));
  return [200, { order: String(id), reserved: String(item) }];
}

http.createServer(async (req, res) => {
  let status;
  let out;
  try {
    [status, out] = await reserve(req);
  } catch (e) {
    status = e instanceof SyntaxError || (e instanceof AftError && e.code === 'no_txn') ? 400 : 500;
    out = { error: e.message };
  }
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(out));
}).listen(Number(process.env.PORT || 8080), process.env.HOST, function listening() {
  console.log(`reserve: listening on port ${this.address().port}`);
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
