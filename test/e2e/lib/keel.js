'use strict';
// A keel-discovery child process for tests: free ports on 127.0.0.1, output kept
// (and echoed with KEEL_E2E_VERBOSE=1), bounded start/stop, and typed access to its
// HTTP endpoints (/ready, /debug/configz, /debug/config_dump, /metrics).

const { spawn } = require('node:child_process');
const fs = require('node:fs');

const { freePorts, httpGet, waitFor, sleep, tail } = require('./common');

const VERBOSE = process.env.KEEL_E2E_VERBOSE === '1';
const live = new Set();

// Last resort: never leave a keel-discovery behind if the test process exits early.
process.on('exit', () => {
  for (const k of live) {
    try {
      k.child.kill('SIGKILL');
    } catch {
      /* ignore */
    }
  }
});

class Keel {
  // opts: bin, args (source flags, e.g. ['--kubeconfig', F]), label, logLevel, env, logFile.
  constructor(opts) {
    this.opts = opts;
    this.label = opts.label || 'keel';
    this.out = '';
    this.exit = null;
    this.child = null;
    this.grpcPort = 0;
    this.monPort = 0;
  }

  static async start(opts) {
    const k = new Keel(opts);
    await k.spawn();
    if (opts.waitReady !== false) await k.waitReady(opts.readyTimeoutMs || 30000);
    return k;
  }

  async spawn() {
    [this.grpcPort, this.monPort] = await freePorts(2);
    const args = [
      ...this.opts.args,
      '--grpc-addr', `127.0.0.1:${this.grpcPort}`,
      '--monitoring-addr', `127.0.0.1:${this.monPort}`,
      '--log-level', this.opts.logLevel || 'debug',
      ...(this.opts.extraArgs || []),
    ];
    this.out += `$ ${this.opts.bin} ${args.join(' ')}\n`;
    this.startedAt = Date.now();
    const child = spawn(this.opts.bin, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(this.opts.env || {}) },
    });
    this.child = child;
    live.add(this);
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (d) => {
        this.out += d;
        if (VERBOSE) process.stderr.write(d.replace(/^(?=.)/gm, `[${this.label}] `));
      });
    }
    child.on('error', (e) => {
      this.exit = { error: e.message };
    });
    child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      live.delete(this);
    });
  }

  get pid() {
    return this.child && this.child.pid;
  }

  async waitReady(timeoutMs) {
    let last = 'no answer';
    await waitFor(`${this.label} GET /ready == 200`, timeoutMs, 100, async () => {
      if (this.exit) throw new Error(`${this.label} exited: ${JSON.stringify(this.exit)}`);
      try {
        const r = await httpGet(this.monPort, '/ready', 2000);
        last = `HTTP ${r.status} ${r.body.trim()}`;
        return r.status === 200;
      } catch (e) {
        last = e.message;
        return false;
      }
    }).catch((e) => {
      throw new Error(`${e.message}; last /ready: ${last}\n${tail(this.out, 40)}`);
    });
    this.readyAt = Date.now();
  }

  get(urlPath, timeoutMs = 5000) {
    return httpGet(this.monPort, urlPath, timeoutMs);
  }

  async getJson(urlPath) {
    const r = await this.get(urlPath, 10000);
    if (r.status !== 200) throw new Error(`${this.label} GET ${urlPath}: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body);
  }

  // /debug/configz as an array of objects.
  configz() {
    return this.getJson('/debug/configz');
  }

  // /debug/config_dump?proxyID=ID
  configDump(proxyId) {
    return this.getJson(`/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`);
  }

  // /metrics as a Map from 'name{a="x",b="y"}' (labels as rendered) to a number.
  async metrics() {
    const r = await this.get('/metrics');
    const out = new Map();
    for (const line of r.body.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      out.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
    return out;
  }

  // Sum of a metric's series whose labels include all of `labels`.
  static metricSum(metrics, name, labels = {}) {
    let sum = 0;
    for (const [key, v] of metrics) {
      const brace = key.indexOf('{');
      const n = brace < 0 ? key : key.slice(0, brace);
      if (n !== name) continue;
      const ls = brace < 0 ? '' : key.slice(brace);
      if (Object.entries(labels).every(([k, val]) => ls.includes(`${k}="${val}"`))) sum += v;
    }
    return sum;
  }

  offset() {
    return this.out.length;
  }

  linesSince(offset = 0) {
    return this.out.slice(offset).split('\n');
  }

  // Waits (bounded) for a log line matching re after `offset`; returns it.
  waitForLog(re, timeoutMs, offset = 0) {
    return waitFor(`${this.label} to log ${re}`, timeoutMs, 100, () => {
      if (this.exit) throw new Error(`${this.label} exited: ${JSON.stringify(this.exit)}`);
      return this.linesSince(offset).find((l) => re.test(l));
    });
  }

  // VmRSS of the process in kB (Linux).
  rssKb() {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) : NaN;
  }

  async stop() {
    const child = this.child;
    if (!child || this.exit) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => {
      if (!this.exit) child.kill('SIGKILL');
    }, 5000);
    await Promise.race([exited, sleep(8000)]);
    clearTimeout(t);
  }

  // For failure reports.
  dump(maxLines = 60) {
    return `---- ${this.label} output (last ${maxLines} lines) ----\n${tail(this.out, maxLines)}`;
  }

  saveLog(file) {
    fs.writeFileSync(file, this.out);
  }
}

module.exports = { Keel };
