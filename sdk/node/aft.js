'use strict';
/**
 * aft: read and write through the aft shim from a Node.js function (no dependencies; the
 * built-in fetch of Node 18+).
 *
 * The aft middleware begins a transaction for each invocation and hands the function two
 * headers: X-Aft-Txn-Id (the transaction id of this attempt) and X-Aft-Shim (the base URL
 * of the shim). Txn.fromHeaders reads them; the Txn then reads and writes keys in that
 * transaction. The function never commits or aborts: the middleware commits when it
 * answers 2xx and aborts (and maybe retries) otherwise, so on an AftError answer 5xx.
 *
 *   const txn = Txn.fromHeaders(req.headers);      // http's req.headers, a fetch Headers, a Map...
 *   const v = await txn.get('accounts/alice');     // Buffer, or null when the key does not exist
 *   await txn.put('accounts/alice', '90');         // Buffer, Uint8Array or string (UTF-8)
 *   await txn.delete('carts/alice');
 *   const got = await txn.getMany(['accounts/alice', 'accounts/bob']);  // one round trip: Map key -> Buffer
 *   await txn.putMany({ 'accounts/alice': '60', 'accounts/bob': '40' });
 *   const res = await txn.call(process.env.B_URL, { order: 42 });  // B joins this transaction
 *
 * The middleware relays a function's calls to the shim and presents its own token, so a
 * function behind it needs none. A program that reaches a shim run with --auth-file
 * directly presents a token: the Txn option token or tokenFile, else the environment's
 * AFT_SHIM_TOKEN, else the file that AFT_SHIM_TOKEN_FILE names; and checks an https://
 * shim's certificate against the CA bundle of the option ca or AFT_SHIM_CA. A missing or
 * unknown token throws an AftError with code 'unauthorized'.
 */

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');

const TXN_HEADER = 'X-Aft-Txn-Id';
const SHIM_HEADER = 'X-Aft-Shim';
// Session order over several shim nodes: a committed answer of the middleware carries its
// commit's version in VERSION_HEADER; a follow-up request that sends it back in
// AFTER_HEADER runs in a transaction that sees that commit, on whichever node it begins.
const VERSION_HEADER = 'X-Aft-Version';
const AFTER_HEADER = 'Aft-After';

/**
 * The headers of a follow-up request that must see the commit of an earlier answer, given
 * that answer's headers (an object in any case, or a fetch Headers); {} when it carries no
 * version (it was not a commit).
 */
function afterHeaders(answerHeaders) {
  let v;
  if (answerHeaders && typeof answerHeaders.get === 'function') {
    v = answerHeaders.get(VERSION_HEADER);
  } else {
    for (const [k, val] of Object.entries(answerHeaders || {})) {
      if (k.toLowerCase() === VERSION_HEADER.toLowerCase()) v = Array.isArray(val) ? val[0] : val;
    }
  }
  return v ? { [AFTER_HEADER]: v } : {};
}
const HEX = '0123456789ABCDEF';

// The environment variables that say how to reach a shim run with --auth-file or TLS, read
// when a Txn is made for what its options do not say: the token to present (Authorization:
// Bearer), a file that holds it (surrounding whitespace trimmed), and a PEM file of the CA
// certificates that an https:// shim's certificate is checked against.
const ENV_TOKEN = 'AFT_SHIM_TOKEN';
const ENV_TOKEN_FILE = 'AFT_SHIM_TOKEN_FILE';
const ENV_CA = 'AFT_SHIM_CA';
/** The most ops one batch of the shim's API holds; getMany and putMany send more in several. */
const MAX_BATCH_OPS = 1000;

/**
 * An error of the shim, of a call, or a missing transaction. status is the HTTP status of
 * the shim's answer (null when there was no answer); code its stable snake_case code, such
 * as 'txn_not_found', 'committed' or 'fenced'; 'unauthorized' when the shim wants a token
 * that it was not given; 'no_txn' when the function is not running under the middleware;
 * 'bad_token_file' or 'bad_ca' when a token file or CA bundle does not read;
 * 'shim_unreachable' or 'call_failed' when no answer came.
 */
class AftError extends Error {
  constructor(message, { status = null, code = null, cause } = {}) {
    super(status !== null ? `aft: shim answered ${status} ${code}: ${message}` : `aft: ${message}`,
      cause === undefined ? undefined : { cause });
    this.name = 'AftError';
    this.status = status;
    this.code = code;
  }
}

/**
 * Percent-encode a key (string, as UTF-8, or bytes) the way the Go client does: every byte
 * but A-Za-z0-9_~- becomes %XX, with uppercase hex.
 */
function escapeKey(key) {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  let out = '';
  for (const b of bytes) {
    const safe = (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) ||
      b === 0x2d || b === 0x5f || b === 0x7e;
    out += safe ? String.fromCharCode(b) : '%' + HEX[b >> 4] + HEX[b & 15];
  }
  return out;
}

/** Look name up in headers, whatever their kind, ignoring case; null when absent. */
function header(headers, name) {
  if (headers == null) return null;
  let value = null;
  if (typeof headers.get === 'function') value = headers.get(name); // fetch Headers: case-insensitive
  if (value == null) {
    const lname = name.toLowerCase();
    const entries = typeof headers.entries === 'function' ? headers.entries() : Object.entries(headers);
    for (const [k, v] of entries) {
      if (String(k).toLowerCase() === lname) {
        value = v;
        break;
      }
    }
  }
  if (Array.isArray(value)) value = value.length ? value[0] : null;
  return value ? String(value) : null;
}

/** The bytes of data (Buffer, Uint8Array, string, or a JSON-able object). */
function body(data, headers) {
  if (data == null) return undefined;
  if (typeof data === 'string' || data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
    headers['Content-Type'] = 'application/json';
  }
  return JSON.stringify(data);
}

/**
 * The token to present and where it came from (for messages, never the token itself):
 * token, else the file tokenFile, else ENV_TOKEN, else the file ENV_TOKEN_FILE names;
 * { token: null, from: null } for none.
 */
function tokenOf(token, tokenFile) {
  if (token) return { token, from: 'the token option' };
  if (tokenFile) return { token: readToken(tokenFile), from: `token file ${tokenFile}` };
  if (process.env[ENV_TOKEN]) return { token: process.env[ENV_TOKEN], from: ENV_TOKEN };
  const path = process.env[ENV_TOKEN_FILE];
  if (path) return { token: readToken(path), from: `token file ${path} (${ENV_TOKEN_FILE})` };
  return { token: null, from: null };
}

/** The token in the file at path, without surrounding whitespace. */
function readToken(path) {
  let token;
  try {
    token = fs.readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new AftError(`read the token file ${path}: ${e.message}`, { code: 'bad_token_file' });
  }
  if (!token) throw new AftError(`the token file ${path} is empty`, { code: 'bad_token_file' });
  return token;
}

// The connections to shims, kept alive for every Txn of the process: plain HTTP, and https
// by CA bundle ('' for the system's), with the bundle file's stamp. Node's http never sends a
// request twice.
const httpAgent = new http.Agent({ keepAlive: true });
const httpsAgents = new Map();

/** The size and modification time of the file at path, or '' when it cannot be seen. */
function stampOf(path) {
  try {
    const st = fs.statSync(path, { bigint: true });
    return `${st.size}@${st.mtimeNs}`;
  } catch {
    return '';
  }
}

/**
 * The agent of https:// shims whose certificates the CA bundle at caFile signs. The file is
 * followed as it changes (a CA rotation): a Txn made after it changed trusts the new bundle
 * (connections made before serve on), and a file that does not load (half written) keeps the
 * last good bundle in use.
 */
function httpsAgent(caFile) {
  const last = httpsAgents.get(caFile);
  const stamp = caFile ? stampOf(caFile) : '';
  if (last && last.stamp === stamp) return last.agent;
  let ca;
  if (caFile) {
    try {
      ca = fs.readFileSync(caFile, 'utf8');
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
        throw new AftError(`the CA bundle ${caFile} holds no PEM certificate`, { code: 'bad_ca' });
      }
    } catch (e) {
      if (last) return last.agent;
      if (e instanceof AftError) throw e;
      throw new AftError(`read the CA bundle ${caFile}: ${e.message}`, { code: 'bad_ca' });
    }
  }
  const agent = new https.Agent({ keepAlive: true, ca });
  // The last agent is dropped, not destroyed: its requests in flight end, and the shim
  // closes its idle connections after its idle timeout.
  httpsAgents.set(caFile, { stamp, agent });
  return agent;
}

// The codes of Node's TLS errors that say the shim's certificate is signed by a CA it does
// not trust.
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED']);

// How each Txn reaches its shim: { auth, agent }, auth the Authorization header (null for
// none). Kept off the Txn, so that neither util.inspect nor JSON.stringify of a Txn shows
// the token, nor a request in flight through the agent.
const reach = new WeakMap();

/** The transaction of one function invocation, in the shim at shim. */
class Txn {
  /**
   * A program that reaches a shim run with --auth-file directly presents token, else the
   * token in the file tokenFile, else AFT_SHIM_TOKEN, else the token in the file
   * AFT_SHIM_TOKEN_FILE names; and checks an https:// shim's certificate against the CA
   * bundle (a PEM file) ca, else AFT_SHIM_CA, else the system's. A function behind the
   * middleware needs neither. Throws an AftError with code 'bad_token_file' or 'bad_ca'
   * when the file does not read.
   *
   * @param {string} id the transaction id
   * @param {string} shim the shim's base URL
   * @param {{timeoutMs?: number, token?: string, tokenFile?: string, ca?: string}} [options]
   *   timeoutMs bounds each request (default 30 s)
   */
  constructor(id, shim, { timeoutMs = 30000, token, tokenFile, ca } = {}) {
    if (!id) throw new AftError('empty transaction id', { code: 'no_txn' });
    if (typeof shim !== 'string' || !/^https?:\/\/./.test(shim)) {
      throw new AftError(`shim URL ${JSON.stringify(shim)} is not an http(s) URL`, { code: 'bad_shim_url' });
    }
    this.id = id;
    this.shim = shim;
    this.timeoutMs = timeoutMs;
    this._txnURL = `${shim.replace(/\/+$/, '')}/v1/txns/${escapeKey(id)}`;
    this._base = `${this._txnURL}/keys/`;
    const t = tokenOf(token, tokenFile);
    this._tokenFrom = t.from;
    reach.set(this, {
      auth: t.token ? `Bearer ${t.token}` : null,
      agent: shim.startsWith('https://') ? httpsAgent(ca || process.env[ENV_CA] || '') : httpAgent,
    });
  }

  /**
   * The transaction named by the X-Aft-Txn-Id and X-Aft-Shim headers of a request: http's
   * req.headers (lower case), a plain object in any case, a fetch Headers or a Map. Throws
   * an AftError with code 'no_txn' when a header is missing: the function is not running
   * under the aft middleware. options are the constructor's.
   */
  static fromHeaders(headers, options) {
    const id = header(headers, TXN_HEADER);
    const shim = header(headers, SHIM_HEADER);
    const missing = [[TXN_HEADER, id], [SHIM_HEADER, shim]].filter(([, v]) => !v).map(([n]) => n);
    if (missing.length) {
      throw new AftError(`no ${missing.join(' and ')} header: not running under the aft middleware`, { code: 'no_txn' });
    }
    return new Txn(id, shim, options);
  }

  /** The headers that make a called function join this transaction. */
  headers() {
    return { [TXN_HEADER]: this.id, [SHIM_HEADER]: this.shim };
  }

  /** The value of key in this transaction (a Buffer), or null when it has no visible version. */
  async get(key) {
    try {
      return await this._shim('GET', key);
    } catch (e) {
      if (e instanceof AftError && e.code === 'key_not_found') return null;
      throw e;
    }
  }

  /** Write value (Buffer, Uint8Array or string, sent as UTF-8) as key; others see it once the transaction commits. */
  async put(key, value) {
    await this._shim('PUT', key, bytesOf(value));
  }

  /**
   * The values of keys in this transaction, in one round trip (a batch of the shim's API,
   * one per MAX_BATCH_OPS keys): a Map of key -> Buffer, without the keys that have no
   * visible version. Keys are strings; use get for keys that are not text.
   */
  async getMany(keys) {
    const list = Array.from(keys, textKey);
    const results = await this._batch(list.map((key) => ({ op: 'read', key })));
    const out = new Map();
    list.forEach((key, i) => {
      const r = results[i];
      if (r.code === 'key_not_found') return;
      checkResult('read', key, r);
      out.set(key, Buffer.from(r.value || '', 'base64'));
    });
    return out;
  }

  /**
   * Write every key -> value of entries (an object, a Map or [key, value] pairs; values as
   * for put) in one round trip (a batch, one per MAX_BATCH_OPS keys). Keys are strings.
   */
  async putMany(entries) {
    const pairs = entries instanceof Map || Array.isArray(entries) ? Array.from(entries) : Object.entries(entries);
    const ops = pairs.map(([k, v]) => ({ op: 'write', key: textKey(k), value: bytesOf(v).toString('base64') }));
    const results = await this._batch(ops);
    ops.forEach((op, i) => checkResult('write', op.key, results[i]));
  }

  /** The results of ops, sent in batches of at most MAX_BATCH_OPS. */
  async _batch(ops) {
    const results = [];
    for (let i = 0; i < ops.length; i += MAX_BATCH_OPS) {
      const raw = await this._request('POST', `${this._txnURL}/batch`, Buffer.from(JSON.stringify({ ops: ops.slice(i, i + MAX_BATCH_OPS) })),
        'application/json', 'batch');
      results.push(...JSON.parse(raw.toString('utf8')).results);
    }
    return results;
  }

  /** Delete key in this transaction. */
  async delete(key) {
    await this._shim('DELETE', key);
  }

  /**
   * Call another function at url, which joins this transaction, and return its fetch
   * Response whatever its status (check .ok). data may be a Buffer, Uint8Array, string or a
   * JSON-able object (sent as JSON). options: method (default 'POST'), headers, timeoutMs.
   * Throws an AftError with code 'call_failed' when no answer came.
   */
  async call(url, data = null, { method = 'POST', headers = {}, timeoutMs } = {}) {
    const h = {};
    for (const [k, v] of Object.entries(headers || {})) {
      const lk = k.toLowerCase();
      if (lk !== TXN_HEADER.toLowerCase() && lk !== SHIM_HEADER.toLowerCase()) h[k] = v;
    }
    const b = body(data, h);
    Object.assign(h, this.headers());
    try {
      return await fetch(url, { method, headers: h, body: b, signal: AbortSignal.timeout(timeoutMs || this.timeoutMs) });
    } catch (e) {
      throw new AftError(`call ${method} ${url}: ${reason(e)}`, { code: 'call_failed', cause: e });
    }
  }

  /** One request to the shim about key: the answer's body as a Buffer, or an AftError. */
  async _shim(method, key, bytes) {
    return this._request(method, this._base + escapeKey(key), bytes, 'application/octet-stream', `${method} ${JSON.stringify(String(key))}`);
  }

  /** One request to the shim: the answer's body as a Buffer, or an AftError naming what. */
  async _request(method, url, bytes, contentType, what) {
    const headers = {};
    if (bytes) Object.assign(headers, { 'Content-Type': contentType, 'Content-Length': bytes.length });
    const { auth, agent } = reach.get(this);
    if (auth) headers.Authorization = auth;
    let res;
    try {
      res = await send(url, { method, headers, body: bytes, agent, timeoutMs: this.timeoutMs });
    } catch (e) {
      const hint = UNTRUSTED.has(e && e.code) ? ` (set ${ENV_CA} to the file of the CA that signed the shim's certificate)` : '';
      throw new AftError(`shim ${this.shim} unreachable: ${reason(e)}${hint}`, { code: 'shim_unreachable', cause: e });
    }
    const { status, body: raw } = res;
    if (status >= 200 && status < 300) return raw;
    let message = raw.toString('utf8');
    let code = `http_${status}`;
    try {
      const j = JSON.parse(message);
      if (j && typeof j.code === 'string') ({ error: message, code } = j);
    } catch {
      // not the JSON error shape: keep the raw body
    }
    if (status === 401) {
      code = 'unauthorized';
      message += this._tokenFrom === null
        ? ` (the shim wants a token: set ${ENV_TOKEN} or ${ENV_TOKEN_FILE}, or pass the token option)`
        : ` (the shim does not know the token of ${this._tokenFrom}: set ${ENV_TOKEN} or ${ENV_TOKEN_FILE} to one of its tokens)`;
    }
    throw new AftError(`${what}: ${message}`, { status, code });
  }
}

/**
 * Send one request with node's http or https (which, unlike fetch, take a CA bundle) through
 * agent, bounded by timeoutMs: its status and whole body, or the error of the request.
 */
function send(url, { method, headers, body: bytes, agent, timeoutMs }) {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, agent, signal: AbortSignal.timeout(timeoutMs) }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) reject(new Error('the connection closed before the whole answer came'));
      });
    });
    req.on('error', reject);
    req.end(bytes);
  });
}

/** The bytes of a value: a Buffer, Uint8Array, or a string sent as UTF-8. */
function bytesOf(value) {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

/** key as a string, as a batch's JSON carries keys; bytes must be UTF-8. */
function textKey(key) {
  if (typeof key === 'string') return key;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(key);
  } catch {
    throw new AftError(`key ${JSON.stringify(String(key))} is not UTF-8: use get and put for it`, { code: 'bad_key' });
  }
}

/** Throw the AftError of one op's result, if it failed. */
function checkResult(op, key, r) {
  if (r.code) throw new AftError(`${op} ${JSON.stringify(key)}: ${r.error || r.code}`, { status: r.status, code: r.code });
}

/** The reason of a fetch failure: undici hides it in cause. */
function reason(e) {
  return e && e.cause && e.cause.message ? e.cause.message : (e && e.message) || String(e);
}

module.exports = {
  Txn, AftError, escapeKey, afterHeaders, TXN_HEADER, SHIM_HEADER, VERSION_HEADER, AFTER_HEADER, MAX_BATCH_OPS,
  ENV_TOKEN, ENV_TOKEN_FILE, ENV_CA,
};
