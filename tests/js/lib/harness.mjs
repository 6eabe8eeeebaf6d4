// Minimal test harness for the end-to-end .mjs tests: counts checks, prints every failure as it
// happens, arms a watchdog so a hung server cannot stall ctest, and turns the result into the exit
// code (0 = pass). Cleanup of child processes and temp dirs lives in signer.mjs and runs on every exit.

import { isDeepStrictEqual, inspect } from "node:util";

export class Harness {
  constructor(name, { timeoutMs = 50_000 } = {}) {
    this.name = name;
    this.passed = 0;
    this.failed = 0;
    this.t0 = Date.now();
    this.watchdog = setTimeout(() => {
      console.error(`${name}: FAIL: watchdog: still running after ${timeoutMs} ms`);
      process.exit(1);
    }, timeoutMs);
    this.watchdog.unref();
  }

  ok(cond, what, detail) {
    if (cond) {
      this.passed++;
      return true;
    }
    this.failed++;
    const extra = detail === undefined ? "" : `: ${typeof detail === "string" ? detail : inspect(detail, { depth: 4, breakLength: 160 })}`;
    console.error(`${this.name}: FAIL: ${what}${extra}`);
    return false;
  }

  eq(actual, expected, what) {
    return this.ok(isDeepStrictEqual(actual, expected), what, { actual, expected });
  }

  // Ends the run: one summary line, exit code 0 only when nothing failed.
  finish(summary) {
    const secs = ((Date.now() - this.t0) / 1000).toFixed(1);
    if (this.failed === 0) {
      console.log(`${this.name}: ${summary} (${this.passed} checks passed, ${secs} s)`);
      process.exit(0);
    }
    console.log(`${this.name}: FAILED ${this.failed} of ${this.passed + this.failed} checks; ${summary} (${secs} s)`);
    process.exit(1);
  }

  // Runs main(); any exception is one failure and ends the run (cleanup happens in the exit hook).
  static async run(h, main) {
    try {
      await main();
    } catch (err) {
      h.failed++;
      console.error(`${h.name}: FAIL: uncaught: ${err && err.stack ? err.stack : err}`);
      h.finish("aborted");
    }
  }
}

// Runs fn over items with at most n in flight; results in input order.
export async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}
