'use strict';
// Transfer: an example function that reads two keys and writes two.
//
// POST {"from": "alice", "to": "bob", "amount": 10} moves 10 from accounts/alice to
// accounts/bob (decimal balances; a missing account holds 0) in the invocation's transaction.
// Run behind the aft middleware: PORT=8080 node transfer.js
const http = require('node:http');
const { Txn, AftError } = require('../aft'); // a deployed function ships aft.js alongside

async function transfer(req) {
  const { from, to, amount } = JSON.parse(await readBody(req)) || {};
  if (!from || !to || from === to || !(Number.isInteger(amount) && amount > 0)) {
    return [400, { error: 'want {"from", "to", "amount"}: two accounts and a positive amount' }];
  }
  const txn = Txn.fromHeaders(req.headers);
  const [ka, kb] = [`accounts/${from}`, `accounts/${to}`];
  const got = await txn.getMany([ka, kb]); // both reads in one round trip
  const a = Number(got.get(ka)?.toString() ?? 0);
  const b = Number(got.get(kb)?.toString() ?? 0);
  if (a < amount) return [409, { error: `insufficient funds: ${from} holds ${a}` }];
  await txn.putMany({ [ka]: String(a - amount), [kb]: String(b + amount) }); // both writes in one
  return [200, { [from]: a - amount, [to]: b + amount }];
}

http.createServer(async (req, res) => {
  let status;
  let out;
  try {
    [status, out] = await transfer(req);
  } catch (e) {
    // Not under the middleware or a bad request: 400; the shim failed: 500, which makes the
    // middleware abort and retry.
    status = e instanceof SyntaxError || (e instanceof AftError && e.code === 'no_txn') ? 400 : 500;
    out = { error: e.message };
  }
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(out));
}).listen(Number(process.env.PORT || 8080), process.env.HOST, function listening() {
  console.log(`transfer: listening on port ${this.address().port}`);
});

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
