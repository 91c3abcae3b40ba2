// Replies in the shapes the Entra ID services send: the token service's
// JSON errors (error, error_description with its Trace ID / Correlation ID /
// Timestamp lines, error_codes, timestamp, trace_id, correlation_id,
// error_uri), IMDS's {error, error_description}, App Service's
// {statusCode, message, correlationId}; request bodies read within a limit.
'use strict';
const crypto = require('crypto');

// EntraError: a token-service error. code is the AADSTS number.
class EntraError extends Error {
  constructor(status, error, code, description) {
    super(description);
    this.status = status;
    this.error = error;
    this.code = code;
  }
}
// MiError: a managed-identity endpoint error; body is the whole JSON reply.
class MiError extends Error {
  constructor(status, body) {
    super(JSON.stringify(body));
    this.status = status;
    this.body = body;
  }
}

// "2023-05-06 06:03:00Z", as Entra writes its timestamps
const stamp = (d = new Date()) => d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ids(ctx): the trace id (new each request) and correlation id (the
// client's client-request-id when it is a GUID, as Entra echoes it).
function ids(ctx) {
  if (!ctx.traceId) {
    const asked = ctx.req.headers['client-request-id'];
    ctx.traceId = crypto.randomUUID();
    ctx.correlationId = typeof asked === 'string' && UUID.test(asked) ? asked.toLowerCase() : crypto.randomUUID();
  }
  return ctx;
}

function send(ctx, status, obj, headers = {}) {
  ids(ctx);
  const body = Buffer.from(JSON.stringify(obj), 'utf8');
  const h = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store, no-cache',
    'pragma': 'no-cache',
    'x-ms-request-id': ctx.traceId,
    'date': new Date().toUTCString(),
    'content-length': String(body.length),
    ...headers,
  };
  if (ctx.req.headers['client-request-id'] && /^true$/i.test(ctx.req.headers['return-client-request-id'] || '')) {
    h['client-request-id'] = ctx.correlationId;
  }
  ctx.status = status;
  ctx.res.writeHead(status, h);
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : body);
}

function sendEntraError(ctx, err) {
  ids(ctx);
  const now = stamp();
  const description = `AADSTS${err.code}: ${err.message}\r\nTrace ID: ${ctx.traceId}\r\n` +
    `Correlation ID: ${ctx.correlationId}\r\nTimestamp: ${now}`;
  ctx.outcome = `AADSTS${err.code}`;
  send(ctx, err.status, {
    error: err.error,
    error_description: description,
    error_codes: [err.code],
    timestamp: now,
    trace_id: ctx.traceId,
    correlation_id: ctx.correlationId,
    error_uri: `${ctx.base}/error?code=${err.code}`,
  });
}

function sendMiError(ctx, err) {
  ctx.outcome = err.body.error || `status-${err.status}`;
  send(ctx, err.status, err.body);
}

// readBody(req, limit): the body as a string; null when it is over limit
// (the rest is drained, not kept).
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// parseForm(text): a Map of the first value of each name; a repeated name
// is an error, as Entra refuses duplicated parameters.
function parseForm(text) {
  const form = new Map();
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
    let name, value;
    try {
      name = dec(eq < 0 ? pair : pair.slice(0, eq));
      value = eq < 0 ? '' : dec(pair.slice(eq + 1));
    } catch {
      throw new EntraError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid.');
    }
    if (form.has(name)) throw new EntraError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid.');
    form.set(name, value);
  }
  return form;
}

module.exports = { EntraError, MiError, send, sendEntraError, sendMiError, readBody, parseForm };
