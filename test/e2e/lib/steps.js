'use strict';
// Ordered test steps (node:test) that share state, and on failure print the end of
// every keel-discovery's output and keep its full log in a temp dir.

const { test } = require('node:test');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const KEEP = process.env.KEEL_E2E_KEEP === '1';

class Steps {
  constructor(name) {
    this.name = name;
    this.keels = [];
    this.failed = [];
    this.workDir = fs.mkdtempSync(path.join(os.tmpdir(), `keel-${name}-`));
  }

  watch(keel) {
    this.keels.push(keel);
    return keel;
  }

  // step(name, timeoutMs, fn): fails fast (skips) when an earlier step failed,
  // unless {independent: true}.
  step(name, timeoutMs, fn, { independent = false } = {}) {
    test(name, { timeout: timeoutMs }, async (t) => {
      if (!independent && this.failed.length > 0) {
        t.skip(`an earlier step failed: ${this.failed[0]}`);
        return;
      }
      try {
        await fn(t);
      } catch (e) {
        this.failed.push(name);
        this.report(name);
        throw e;
      }
    });
  }

  report(what) {
    let text = `\n==== ${this.name}: ${what} failed; logs kept in ${this.workDir} ====\n`;
    for (const k of this.keels) {
      text += k.dump(50) + '\n';
      try {
        k.saveLog(path.join(this.workDir, `${k.label}.log`));
      } catch {
        /* ignore */
      }
    }
    process.stderr.write(text);
  }

  // Call from after(): removes the temp dir unless something failed or KEEL_E2E_KEEP=1.
  finish() {
    if (KEEP || this.failed.length > 0) {
      for (const k of this.keels) {
        try {
          k.saveLog(path.join(this.workDir, `${k.label}.log`));
        } catch {
          /* ignore */
        }
      }
      process.stderr.write(`${this.name}: kept ${this.workDir}\n`);
    } else {
      fs.rmSync(this.workDir, { recursive: true, force: true });
    }
  }
}

module.exports = { Steps };
