'use strict';
// Istio's own delta ADS client (istio.io/istio/pkg/adsc, test/e2e/delta_client) as a
// connected proxy for JS tests: it subscribes, writes what it holds once every watched
// type has answered, and stays connected (--hold) until close(), so a test can read
// keel's /debug/config_dump of it. KEEL_DELTA_CLIENT names the binary
// (test/e2e/delta_client/build.sh makes it; scripts/dev.sh test runs that).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { waitFor } = require('./common');

const TYPE = {
  CDS: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  LDS: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RDS: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
};

class DeltaClient {
  // nodeId: Istio's TYPE~IP~POD.NS~NS.svc.cluster.local; meta: {KEY: string | object};
  // watches: ['CDS', 'RDS=80,http.8080', ...] (no names: wildcard).
  constructor(grpcPort, nodeId, meta, watches) {
    const bin = process.env.KEEL_DELTA_CLIENT;
    if (!bin || !fs.existsSync(bin)) throw new Error('set KEEL_DELTA_CLIENT to istio-delta-client (test/e2e/delta_client/build.sh)');
    this.nodeId = nodeId;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keel-delta-'));
    this.out = path.join(this.dir, 'held.json');
    this.stderr = '';
    const args = ['--addr', `127.0.0.1:${grpcPort}`, '--node-id', nodeId, '--expect-json', this.out, '--timeout', '30s', '--hold'];
    for (const [k, v] of Object.entries(meta)) args.push('--meta', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
    for (const w of watches) {
      const [short, names] = w.split('=');
      args.push('--watch', names === undefined ? TYPE[short] : `${TYPE[short]}=${names}`);
    }
    this.child = spawn(bin, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.exit = null;
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.child.on('exit', (code) => (this.exit = code));
  }

  // The resource names held per short type, once every watched type answered.
  async held(timeoutMs = 30000) {
    await waitFor(`${this.nodeId}: a first answer of every watched type`, timeoutMs, 100, () => {
      if (this.exit !== null) throw new Error(`istio-delta-client exited ${this.exit}: ${this.stderr.slice(-2000)}`);
      return fs.existsSync(this.out);
    });
    const byUrl = JSON.parse(fs.readFileSync(this.out, 'utf8'));
    const out = {};
    for (const [short, url] of Object.entries(TYPE)) if (byUrl[url]) out[short] = byUrl[url];
    return out;
  }

  close() {
    if (this.exit === null) this.child.stdin.end();
    setTimeout(() => this.exit === null && this.child.kill('SIGKILL'), 5000).unref();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = { DeltaClient };
