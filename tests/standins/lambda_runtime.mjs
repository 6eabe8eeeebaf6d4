// lambda_runtime.mjs: the AWS Lambda Runtime API for tests of a custom
// runtime (nitro-control), as AWS documents it
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
//
//   GET  /2018-06-01/runtime/invocation/next       held until an event is
//        queued; answers it with Lambda-Runtime-Aws-Request-Id,
//        Lambda-Runtime-Deadline-Ms, Lambda-Runtime-Invoked-Function-Arn,
//        Lambda-Runtime-Trace-Id
//   POST /2018-06-01/runtime/invocation/ID/response  202, recorded
//   POST /2018-06-01/runtime/invocation/ID/error     202, recorded with the
//        Lambda-Runtime-Function-Error-Type header
//   POST /2018-06-01/runtime/init/error              202, recorded
//
// An invocation answered twice, or an unknown request id, gets 400 and is
// counted in violations (a test asserts there are none).
//
// Admin routes for the test:
//   POST /__admin/invoke {"event": JSON} or {"raw": "text"} [, "timeoutMs"]
//        -> {"id"}: queues one invocation
//   GET  /__admin/result/ID -> {"kind": "response"|"error", "body", "errorType"}
//        held until the invocation is answered (or 30 s, then 504)
//   GET  /__admin/state -> {"initError", "violations", "pending", "served"}
//
// Also importable: createLambdaRuntime() gives { server, invoke(event,
// opts), result(id), state }. Listens on 127.0.0.1 for tests only.
import crypto from 'node:crypto';
import http from 'node:http';
import { readBody } from './common.mjs';

const PREFIX = '/2018-06-01/runtime';

export function createLambdaRuntime({ functionArn = 'arn:aws:lambda:us-east-1:111122223333:function:nitro-control' } = {}) {
  const queue = [];         // invocations not yet handed out
  const waiting = [];       // held /next responses
  const invocations = new Map(); // id -> { deadline, answer, waiters }
  const state = { initError: null, violations: [], served: 0 };

  function serveNext(res, inv) {
    state.served++;
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Lambda-Runtime-Aws-Request-Id': inv.id,
      'Lambda-Runtime-Deadline-Ms': String(inv.deadline),
      'Lambda-Runtime-Invoked-Function-Arn': functionArn,
      'Lambda-Runtime-Trace-Id': `Root=1-${Date.now().toString(16)}-${crypto.randomBytes(12).toString('hex')}`,
    });
    res.end(inv.body);
  }

  function invoke(event, { raw, timeoutMs = 10000 } = {}) {
    const id = crypto.randomUUID();
    const body = raw !== undefined ? Buffer.from(raw) : Buffer.from(JSON.stringify(event));
    const inv = { id, body, deadline: Date.now() + timeoutMs, answer: null, waiters: [] };
    invocations.set(id, inv);
    const res = waiting.shift();
    if (res) serveNext(res, inv); else queue.push(inv);
    return id;
  }

  function result(id, ms = 30000) {
    const inv = invocations.get(id);
    if (!inv) return Promise.reject(new Error(`no invocation ${id}`));
    if (inv.answer) return Promise.resolve(inv.answer);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`invocation ${id} not answered in ${ms} ms`)), ms);
      inv.waiters.push((a) => { clearTimeout(t); resolve(a); });
    });
  }

  function answer(res, id, a) {
    const inv = invocations.get(id);
    if (!inv || inv.answer) {
      state.violations.push(`${a.kind} for ${inv ? 'an answered' : 'an unknown'} invocation ${id}`);
      res.writeHead(400, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ errorMessage: 'invalid request id', errorType: 'InvalidRequestID' }));
    }
    inv.answer = a;
    for (const w of inv.waiters) w(a);
    res.writeHead(202, { 'Content-Type': 'application/json' });
    res.end('{"status":"OK"}');
  }

  const parse = (b) => { try { return JSON.parse(b.toString()); } catch { return b.toString(); } };

  const server = http.createServer(async (req, res) => {
    let body;
    try { body = await readBody(req, 8 * 1024 * 1024); } catch { return; }
    const url = new URL(req.url, 'http://x');
    const p = url.pathname;
    let m;
    if (req.method === 'GET' && p === `${PREFIX}/invocation/next`) {
      const inv = queue.shift();
      if (inv) return serveNext(res, inv);
      waiting.push(res);
      res.on('close', () => { const i = waiting.indexOf(res); if (i >= 0) waiting.splice(i, 1); });
      return undefined;
    }
    if (req.method === 'POST' && (m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(p))) {
      const kind = m[2];
      return answer(res, decodeURIComponent(m[1]), { kind, body: parse(body),
        errorType: req.headers['lambda-runtime-function-error-type'] || null,
        contentType: req.headers['content-type'] || null });
    }
    if (req.method === 'POST' && p === `${PREFIX}/init/error`) {
      state.initError = { body: parse(body), errorType: req.headers['lambda-runtime-function-error-type'] || null };
      res.writeHead(202, { 'Content-Type': 'application/json' });
      return res.end('{"status":"OK"}');
    }
    const send = (status, obj) => { res.writeHead(status, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(obj)); };
    if (req.method === 'POST' && p === '/__admin/invoke') {
      const j = JSON.parse(body.toString());
      return send(200, { id: invoke(j.event, { raw: j.raw, timeoutMs: j.timeoutMs }) });
    }
    if (req.method === 'GET' && (m = /^\/__admin\/result\/([^/]+)$/.exec(p))) {
      try { return send(200, await result(m[1])); } catch (e) { return send(504, { error: e.message }); }
    }
    if (req.method === 'GET' && p === '/__admin/state')
      return send(200, { ...state, pending: queue.length });
    return send(404, { errorMessage: `no route ${req.method} ${p}`, errorType: 'NotFound' });
  });
  return { server, invoke, result, state };
}
