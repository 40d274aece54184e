'use strict';
// Tests of aft.js: node --test (in sdk/node).
//
// The tests against a shim run when AFT_TEST_SHIM (its base URL) and AFT_TEST_TXN (a
// running transaction) are set, as the Go test sdk/lang_test.go does; it then commits the
// transaction and checks the writes. AFT_TEST_PREFIX prefixes the keys written;
// AFT_TEST_SEED is the value that prefix+"seed" holds before the transaction, when set.
// When the shim wants a token, AFT_SHIM_TOKEN holds it; AFT_TEST_TLS_SHIM is then the same
// shim over HTTPS, with a certificate of the CA in the file AFT_TEST_CA.

const { test, describe, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const tls = require('node:tls');
const util = require('node:util');
const { Txn, AftError, escapeKey, afterHeaders, ENV_TOKEN, ENV_TOKEN_FILE, ENV_CA } = require('./aft');

const SHIM = process.env.AFT_TEST_SHIM;
const TXN = process.env.AFT_TEST_TXN;
const PREFIX = process.env.AFT_TEST_PREFIX || 'node/';
const SEED = process.env.AFT_TEST_SEED;
const TLS_SHIM = process.env.AFT_TEST_TLS_SHIM;
const CA = process.env.AFT_TEST_CA;
const TOKEN = process.env[ENV_TOKEN];

/**
 * Run fn with AFT_SHIM_TOKEN, AFT_SHIM_TOKEN_FILE and AFT_SHIM_CA as env has them (unset
 * when absent), restored after.
 */
async function withShimEnv(env, fn) {
  const keys = [ENV_TOKEN, ENV_TOKEN_FILE, ENV_CA];
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  for (const k of keys) delete process.env[k];
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

/** The path of a new file holding content. */
function tokenFile(content) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aft-token-'));
  const p = path.join(dir, 'token');
  fs.writeFileSync(p, content);
  return p;
}

describe('afterHeaders', () => {
  test('the version sent back', () => {
    assert.deepEqual(afterHeaders({ 'x-aft-version': '00000000000000ff.abc' }), { 'Aft-After': '00000000000000ff.abc' });
    assert.deepEqual(afterHeaders(new Headers({ 'X-Aft-Version': 'v' })), { 'Aft-After': 'v' });
    assert.deepEqual(afterHeaders({}), {});
  });
});

describe('escapeKey', () => {
  test('shared vectors', () => {
    const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'testdata', 'keys.json'), 'utf8'));
    assert.ok(vectors.length > 5);
    for (const v of vectors) {
      const key = Buffer.from(v.key_hex, 'hex');
      assert.equal(escapeKey(key), v.escaped, v.key_hex);
      const s = key.toString('utf8');
      if (Buffer.from(s, 'utf8').equals(key)) assert.equal(escapeKey(s), v.escaped, v.key_hex);
    }
  });
  test('dot and slash', () => {
    assert.equal(escapeKey('../a.b'), '%2E%2E%2Fa%2Eb');
  });
});

describe('fromHeaders', () => {
  const check = (headers) => {
    const txn = Txn.fromHeaders(headers);
    assert.equal(txn.id, 't-1');
    assert.equal(txn.shim, 'http://shim:7654');
    assert.deepEqual(txn.headers(), { 'X-Aft-Txn-Id': 't-1', 'X-Aft-Shim': 'http://shim:7654' });
  };
  test('objects in any case', () => {
    check({ 'x-aft-txn-id': 't-1', 'x-aft-shim': 'http://shim:7654' }); // node's req.headers
    check({ 'X-Aft-Txn-Id': 't-1', 'X-AFT-SHIM': 'http://shim:7654' });
    check({ 'x-aft-txn-id': ['t-1'], 'x-aft-shim': ['http://shim:7654'] });
  });
  test('fetch Headers and Map', () => {
    check(new Headers({ 'X-Aft-Txn-Id': 't-1', 'x-aft-shim': 'http://shim:7654' }));
    check(new Map([['X-AFT-TXN-ID', 't-1'], ['x-aft-shim', 'http://shim:7654']]));
  });
  test('missing headers', () => {
    for (const [headers, missing] of [
      [{}, 'X-Aft-Txn-Id and X-Aft-Shim'],
      [undefined, 'X-Aft-Txn-Id and X-Aft-Shim'],
      [{ 'x-aft-shim': 'http://shim:7654' }, 'X-Aft-Txn-Id'],
      [{ 'x-aft-txn-id': 't-1', 'x-aft-shim': '' }, 'X-Aft-Shim'],
    ]) {
      assert.throws(() => Txn.fromHeaders(headers), (e) => e instanceof AftError && e.code === 'no_txn' &&
        e.message.includes(`no ${missing} header`) && e.message.includes('not running under the aft middleware'));
    }
  });
  test('bad shim URL', () => {
    assert.throws(() => Txn.fromHeaders({ 'x-aft-txn-id': 't-1', 'x-aft-shim': 'shim:7654' }),
      (e) => e instanceof AftError && e.code === 'bad_shim_url');
  });
});

describe('call', () => {
  let server;
  let url;
  const txn = new Txn('t-1', 'http://shim:7654');
  before(async () => {
    server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const out = JSON.stringify({
          method: req.method,
          txn: req.headers['x-aft-txn-id'],
          shim: req.headers['x-aft-shim'],
          custom: req.headers['x-custom'] || null,
          type: req.headers['content-type'] || null,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(Number(req.headers['x-status'] || 200), { 'Content-Type': 'application/json' });
        res.end(out);
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${server.address().port}/fn`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  test('propagates the headers', async () => {
    const res = await txn.call(url, 'raw', { headers: { 'X-Custom': 'kept', 'x-aft-txn-id': 'stale' } });
    assert.equal(res.status, 200);
    const got = await res.json();
    assert.deepEqual(got, { method: 'POST', txn: 't-1', shim: 'http://shim:7654', custom: 'kept', type: 'text/plain;charset=UTF-8', body: 'raw' });
  });
  test('JSON body and method', async () => {
    let got = await (await txn.call(url, { order: 42 }, { method: 'PUT' })).json();
    assert.equal(got.method, 'PUT');
    assert.equal(got.type, 'application/json');
    assert.deepEqual(JSON.parse(got.body), { order: 42 });
    got = await (await txn.call(url, null, { method: 'GET' })).json();
    assert.deepEqual([got.method, got.body, got.txn], ['GET', '', 't-1']);
    got = await (await txn.call(url, Buffer.from([1, 2]))).json();
    assert.equal(got.body, '\u0001\u0002');
  });
  test('an error status is returned', async () => {
    const res = await txn.call(url, 'x', { headers: { 'X-Status': '503' } });
    assert.equal(res.ok, false);
    assert.equal(res.status, 503);
    assert.equal((await res.json()).txn, 't-1');
  });
  test('unreachable', async () => {
    await assert.rejects(txn.call('http://127.0.0.1:1/', null, { timeoutMs: 5000 }),
      (e) => e instanceof AftError && e.code === 'call_failed');
    await assert.rejects(new Txn('t-1', 'http://127.0.0.1:1', { timeoutMs: 5000 }).get('k'),
      (e) => e instanceof AftError && e.code === 'shim_unreachable' && e.status === null);
  });
});

describe('token', () => {
  // A shim that answers a read with the Authorization header it got, and 401 as a shim run
  // with --auth-file does to a request with no token or one holding "wrong".
  let server;
  let shim;
  before(async () => {
    server = http.createServer((req, res) => {
      const auth = req.headers.authorization;
      if (auth && !auth.includes('wrong')) {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        res.end(auth);
        return;
      }
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer' });
      res.end(JSON.stringify({ error: 'missing or unknown token', code: 'unauthorized' }));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    shim = `http://127.0.0.1:${server.address().port}`;
  });
  after(() => new Promise((resolve) => server.close(resolve)));

  test('precedence', async () => {
    for (const [name, options, env, want] of [
      ['option before all', { token: 'a' }, { [ENV_TOKEN]: 'b' }, 'a'],
      ['file option before the environment', { tokenFile: tokenFile(' c\n') }, { [ENV_TOKEN]: 'b' }, 'c'],
      ['AFT_SHIM_TOKEN before AFT_SHIM_TOKEN_FILE', {}, { [ENV_TOKEN]: 'b', [ENV_TOKEN_FILE]: '/nonexistent' }, 'b'],
      ['AFT_SHIM_TOKEN_FILE, trimmed', {}, { [ENV_TOKEN_FILE]: tokenFile('\n\td \n') }, 'd'],
    ]) {
      const got = await withShimEnv(env, () => new Txn('t-1', shim, options).get('k'));
      assert.equal(got.toString(), `Bearer ${want}`, name);
    }
  });
  test('no token', async () => {
    await withShimEnv({}, () => assert.rejects(new Txn('t-1', shim).get('k'), (e) => e instanceof AftError &&
      e.status === 401 && e.code === 'unauthorized' && e.message.includes('the shim wants a token: set AFT_SHIM_TOKEN or AFT_SHIM_TOKEN_FILE')));
  });
  test('the token is never shown', async () => {
    await withShimEnv({}, async () => {
      const txn = new Txn('t-1', shim, { token: 'wrong-secret' });
      const e = await txn.get('k').catch((err) => err);
      assert.ok(e instanceof AftError && e.code === 'unauthorized' && e.message.includes('does not know the token of the token option'), e);
      for (const text of [e.message, e.stack, util.inspect(e), util.inspect(txn, { depth: 10 }), JSON.stringify(txn)]) {
        assert.ok(!text.includes('secret'), text);
      }
    });
  });
  test('bad files', async () => {
    await withShimEnv({}, () => {
      for (const [options, code] of [
        [{ tokenFile: '/nonexistent/token' }, 'bad_token_file'],
        [{ tokenFile: tokenFile(' \n') }, 'bad_token_file'],
        [{ ca: '/nonexistent/ca.pem' }, 'bad_ca'],
        [{ ca: tokenFile('not a certificate') }, 'bad_ca'],
      ]) {
        assert.throws(() => new Txn('t-1', 'https://shim:7654', options), (e) => e instanceof AftError && e.code === code, JSON.stringify(options));
      }
      new Txn('t-1', 'http://shim:7654', { ca: '/nonexistent/ca.pem' }); // a CA is for https only
    });
  });
  test('call sends no token', async () => {
    const echo = http.createServer((req, res) => res.end(JSON.stringify({ auth: req.headers.authorization || null })));
    await new Promise((resolve) => echo.listen(0, '127.0.0.1', resolve));
    try {
      const res = await new Txn('t-1', shim, { token: 'secret' }).call(`http://127.0.0.1:${echo.address().port}/fn`, 'x');
      assert.deepEqual(await res.json(), { auth: null });
    } finally {
      echo.closeAllConnections();
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});

describe('against a shim', { skip: !(SHIM && TXN) && 'set AFT_TEST_SHIM and AFT_TEST_TXN to test against a shim' }, () => {
  const txn = () => Txn.fromHeaders({ 'x-aft-txn-id': TXN, 'x-aft-shim': SHIM });

  test('seed visible', { skip: SEED === undefined && 'AFT_TEST_SEED not set' }, async () => {
    assert.deepEqual(await txn().get(PREFIX + 'seed'), Buffer.from(SEED));
  });
  test('put and get', async () => {
    const t = txn();
    await t.put(PREFIX + 'bytes', Buffer.from('written by the SDK'));
    assert.deepEqual(await t.get(PREFIX + 'bytes'), Buffer.from('written by the SDK'));
    await t.put(PREFIX + 'str', 'h\u00e9llo');
    assert.deepEqual(await t.get(PREFIX + 'str'), Buffer.from('h\u00e9llo'));
    await t.put(PREFIX + 'empty', Buffer.alloc(0));
    assert.deepEqual(await t.get(PREFIX + 'empty'), Buffer.alloc(0));
  });
  test('odd keys', async () => {
    const t = txn();
    await t.put(PREFIX + 'weird/ key.\u00e9%~_-?#', 'weird');
    assert.deepEqual(await t.get(PREFIX + 'weird/ key.\u00e9%~_-?#'), Buffer.from('weird'));
    const key = Buffer.concat([Buffer.from(PREFIX + 'bin'), Buffer.from([0xff])]);
    await t.put(key, new Uint8Array([0, 1, 0xfe]));
    assert.deepEqual(await t.get(key), Buffer.from([0, 1, 0xfe]));
  });
  test('missing and delete', async () => {
    const t = txn();
    assert.equal(await t.get(PREFIX + 'missing'), null);
    await t.put(PREFIX + 'deleted', 'x');
    await t.delete(PREFIX + 'deleted');
    assert.equal(await t.get(PREFIX + 'deleted'), null);
  });
  test('many', async () => {
    const t = txn();
    await t.putMany({ [PREFIX + 'many/a']: '1', [PREFIX + 'many/b']: Buffer.from('2'), [PREFIX + 'many/empty']: '' });
    const got = await t.getMany([PREFIX + 'many/a', PREFIX + 'many/b', PREFIX + 'many/empty', PREFIX + 'missing']);
    assert.deepEqual(got, new Map([[PREFIX + 'many/a', Buffer.from('1')], [PREFIX + 'many/b', Buffer.from('2')], [PREFIX + 'many/empty', Buffer.alloc(0)]]));
    await assert.rejects(t.putMany({ '': 'x' }), (e) => e instanceof AftError && e.status === 400 && e.code === 'bad_key');
    await assert.rejects(t.getMany([Buffer.from([0xff])]), (e) => e instanceof AftError && e.code === 'bad_key');
    await assert.rejects(new Txn('no-such-txn', SHIM).getMany(['k']), (e) => e instanceof AftError && e.status === 404 && e.code === 'txn_not_found');
  });
  test('shim errors', async () => {
    await assert.rejects(new Txn('no-such-txn', SHIM).get('k'),
      (e) => e instanceof AftError && e.status === 404 && e.code === 'txn_not_found' && e.message.includes('404 txn_not_found'));
    await assert.rejects(txn().put('', 'x'), (e) => e instanceof AftError && e.status === 400 && e.code === 'bad_key');
  });
});

describe('a shim that wants a token, over HTTP and HTTPS', {
  skip: !(SHIM && TXN && TLS_SHIM && CA && TOKEN) && 'set AFT_TEST_TLS_SHIM, AFT_TEST_CA and AFT_SHIM_TOKEN too to test a shim\'s token and TLS',
}, () => {
  const readSeed = async (shim, options) => {
    const got = await new Txn(TXN, shim, options).get(PREFIX + 'seed');
    if (SEED !== undefined) assert.deepEqual(got, Buffer.from(SEED));
  };
  test('token from the environment', () => withShimEnv({ [ENV_TOKEN]: TOKEN }, () => readSeed(SHIM)));
  test('no token', () => withShimEnv({}, () => assert.rejects(readSeed(SHIM), (e) => e instanceof AftError &&
    e.status === 401 && e.code === 'unauthorized' && e.message.includes('set AFT_SHIM_TOKEN or AFT_SHIM_TOKEN_FILE'))));
  test('unknown token', () => withShimEnv({ [ENV_TOKEN]: `wrong-${TOKEN}` }, () => assert.rejects(readSeed(SHIM), (e) =>
    e instanceof AftError && e.code === 'unauthorized' && e.message.includes('does not know the token of AFT_SHIM_TOKEN') &&
    !e.message.includes(TOKEN))));
  test('https with a CA', async () => {
    await withShimEnv({ [ENV_TOKEN]: TOKEN, [ENV_CA]: CA }, () => readSeed(TLS_SHIM));
    await withShimEnv({ [ENV_TOKEN_FILE]: tokenFile(`${TOKEN}\n`) }, () => readSeed(TLS_SHIM, { ca: CA }));
  });
  test('the CA bundle followed as its file changes', async () => {
    // A bundle of the shim's own certificate (no CA) is refused; the same file then holding
    // the CA is trusted by the next Txn; a file emptied for a moment keeps the last good bundle.
    const url = new URL(TLS_SHIM);
    const leaf = await new Promise((resolve, reject) => {
      const s = tls.connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate().raw);
        s.end();
      });
      s.on('error', reject);
    });
    const b64 = leaf.toString('base64').replace(/.{64}/g, '$&\n');
    const p = tokenFile(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
    await withShimEnv({ [ENV_TOKEN]: TOKEN }, async () => {
      await assert.rejects(readSeed(TLS_SHIM, { ca: p }), (e) => e instanceof AftError && e.code === 'shim_unreachable');
      fs.writeFileSync(p, fs.readFileSync(CA));
      const later = new Date(fs.statSync(p).mtimeMs + 1000); // a change the stamp sees whatever the clock's grain
      fs.utimesSync(p, later, later);
      await readSeed(TLS_SHIM, { ca: p });
      fs.writeFileSync(p, '');
      await readSeed(TLS_SHIM, { ca: p });
    });
  });
  test('https without a CA', () => withShimEnv({ [ENV_TOKEN]: TOKEN }, () => assert.rejects(readSeed(TLS_SHIM), (e) =>
    e instanceof AftError && e.code === 'shim_unreachable' && e.message.includes('set AFT_SHIM_CA to the file of the CA'))));
});
