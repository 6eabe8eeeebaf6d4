// dynamodb.mjs: DynamoDB for tests: dynalite (in memory, a real
// implementation of the DynamoDB API in JavaScript) behind a front that adds
// what dynalite leaves out: SigV4 verification with AWS's signer (dynalite
// only checks that an Authorization header is shaped right) and the fault
// injection of common.mjs, plus one DynamoDB-specific fault:
// {"kind":"unprocessed"} answers BatchWriteItem with every item in
// UnprocessedItems, as DynamoDB does under write throttling.
import http from 'node:http';
import { PassThrough } from 'node:stream';
import {
  applyFault, createCredentialStore, createFaults, handleAdmin, readBody, requireTestDep, sendError, sendJson,
  verifySigV4,
} from './common.mjs';

const CT = 'application/x-amz-json-1.0';

export function createDynamo({ region = 'us-east-1', store = createCredentialStore(), faults = createFaults() } = {}) {
  const dynalite = requireTestDep('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const inner = dynalite.listeners('request')[0];
  const server = http.createServer(async (req, res) => {
    let body;
    try { body = await readBody(req); } catch { return; }
    if (await handleAdmin(req, res, body, faults)) return;
    const target = req.headers['x-amz-target'] || '';
    const op = target.split('.')[1] || '?';
    faults.count(op);
    const who = await verifySigV4(req, body, { region, service: 'dynamodb', store });
    if (!who.ok) { faults.stats.rejected++; return sendError(res, who.status, `com.amazon.coral.service#${who.type}`, who.message, CT); }
    const fault = faults.take(op);
    if (fault && fault.kind === 'unprocessed' && op === 'BatchWriteItem') {
      const j = JSON.parse(body.toString());
      return sendJson(res, 200, { UnprocessedItems: j.RequestItems }, CT);
    }
    if (fault && applyFault(res, fault, {
      throttleType: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
      internalType: 'com.amazonaws.dynamodb.v20120810#InternalServerError', contentType: CT })) return;
    const replay = new PassThrough();
    replay.headers = req.headers;
    replay.method = req.method;
    replay.url = req.url;
    inner(replay, res);
    replay.end(body);
  });
  return { server, faults, close: () => dynalite.close?.() };
}
