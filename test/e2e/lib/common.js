'use strict';
// Small helpers shared by the Node tests (test/e2e, test/integration): bounded
// waits, free ports, HTTP GET, the keel-discovery binary.

const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A TCP port nobody listens on right now (bind to 0, read, close).
function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// n distinct free ports.
async function freePorts(n, host = '127.0.0.1') {
  const out = new Set();
  while (out.size < n) out.add(await freePort(host));
  return [...out];
}

// GET http://127.0.0.1:port/urlPath -> {status, body}; rejects on no answer within timeoutMs.
function httpGet(port, urlPath, timeoutMs = 3000) {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: urlPath, agent: false, timeout: timeoutMs },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

// Polls fn() every intervalMs until it returns a truthy value (returned); bounded by
// timeoutMs. A throw counts as "not yet" and its message is reported on timeout.
async function waitFor(what, timeoutMs, intervalMs, fn) {
  const deadline = Date.now() + timeoutMs;
  let lastErr = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      lastErr = null;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() >= deadline) {
      const why = lastErr ? ` (last: ${lastErr.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

// The keel-discovery binary from KEEL_DISCOVERY_BIN (relative: to the cwd, then the repo root).
function resolveBin(testFile = 'the test') {
  const bin = process.env.KEEL_DISCOVERY_BIN;
  if (!bin) {
    throw new Error(
      `KEEL_DISCOVERY_BIN is not set. Run: KEEL_DISCOVERY_BIN=build/pilot/keel-discovery node --test ${testFile}`,
    );
  }
  const candidates = path.isAbsolute(bin) ? [bin] : [path.resolve(bin), path.resolve(REPO_ROOT, bin)];
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      /* try next */
    }
  }
  throw new Error(`KEEL_DISCOVERY_BIN=${bin}: no executable at ${candidates.join(' or ')}`);
}

function tail(text, maxLines) {
  const lines = text.split('\n');
  return lines.length <= maxLines
    ? text
    : `... (${lines.length - maxLines} earlier lines omitted)\n` + lines.slice(-maxLines).join('\n');
}

// A short random suffix for names that must not collide between runs on one apiserver.
const randSuffix = () => Math.random().toString(36).slice(2, 8);

module.exports = { REPO_ROOT, sleep, freePort, freePorts, httpGet, waitFor, resolveBin, tail, randSuffix };
