// proc.mjs: what the process-level integration tests (test_e2e_full_flow.mjs,
// test_enclave_attacker.mjs) share to drive real binaries: a free 127.0.0.1
// port, bounded polling, and running a built program.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// Polls fn every 100 ms until it returns something truthy (an error with
// .fatal stops at once); after ms, throws with the last result and tail().
export async function until(what, fn, ms = 20000, tail = () => '') {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (e.fatal) throw e;
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}; last: ${last?.stack || JSON.stringify(last)}\n${tail()}`);
}

// run(prog, args, {env, input}) and runOk(...) for the programs in bin.
export function binRunner(bin, timeout = 60000) {
  const run = (prog, args, { env = {}, input } = {}) => {
    const r = spawnSync(path.join(bin, prog), args, { env: { ...process.env, ...env }, encoding: 'utf8', input, timeout });
    return { status: r.status, stdout: r.stdout || '', stderr: r.stderr || '' };
  };
  const runOk = (prog, args, opts) => {
    const r = run(prog, args, opts);
    assert.equal(r.status, 0, `${prog} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    return r;
  };
  return { run, runOk };
}
