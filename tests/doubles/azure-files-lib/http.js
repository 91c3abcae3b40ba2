// Responses as the File service sends them: common headers on every reply,
// errors as <Error><Code>..</Code><Message>..</Message></Error> with the
// code also in x-ms-error-code, and request bodies read within a limit.
'use strict';

const DEFAULT_VERSION = '2025-11-05';

class StorageError extends Error {
  // extra: more XML elements for the body, e.g. {AuthenticationErrorDetail: '...'}
  constructor(status, code, message, extra = {}, headers = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }
}

function xmlEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }[c]));
}
// el('Name', value): an element with escaped text; empty element when value is '' or null.
function el(name, value) {
  return value === undefined || value === null || value === '' ? `<${name} />` : `<${name}>${xmlEscape(value)}</${name}>`;
}

function commonHeaders(ctx) {
  const h = {
    'x-ms-request-id': ctx.requestId,
    'x-ms-version': ctx.version || DEFAULT_VERSION,
    'date': new Date().toUTCString(),
    'server': ctx.serverName || 'Windows-Azure-File/1.0 Microsoft-HTTPAPI/2.0',
  };
  const clientId = ctx.req && ctx.req.headers['x-ms-client-request-id'];
  if (clientId && clientId.length <= 1024) h['x-ms-client-request-id'] = clientId;
  return h;
}

// send(ctx, status, headers, body): a complete reply; HEAD gets headers only.
function send(ctx, status, headers = {}, body) {
  const res = ctx.res;
  const h = { ...commonHeaders(ctx), ...headers };
  const buf = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  if (!('content-length' in h)) h['content-length'] = String(buf.length);
  ctx.status = status;
  ctx.errorCode = h['x-ms-error-code'];
  res.writeHead(status, h);
  res.end(ctx.req.method === 'HEAD' ? undefined : buf);
}
function sendXml(ctx, status, xml, headers = {}) {
  send(ctx, status, { 'content-type': 'application/xml', ...headers }, '<?xml version="1.0" encoding="utf-8"?>' + xml);
}
function sendError(ctx, err) {
  const extra = Object.entries(err.extra).map(([k, v]) => el(k, v)).join('');
  const message = `${err.message}\nRequestId:${ctx.requestId}\nTime:${new Date().toISOString().replace('Z', '0000Z')}`;
  const xml = `<Error>${el('Code', err.code)}${el('Message', message)}${extra}</Error>`;
  sendXml(ctx, err.status, xml, { 'x-ms-error-code': err.code, ...err.headers });
}

// readBody(req, limit): the body as one Buffer; a body longer than limit is
// refused (413) before more of it is kept.
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0, failed = false;
    req.on('data', (c) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(new StorageError(413, 'RequestBodyTooLarge', 'The request body is too large and exceeds the maximum permissible limit.', { MaxLimit: limit }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { if (!failed) resolve(Buffer.concat(chunks, size)); });
    req.on('error', (e) => { if (!failed) { failed = true; reject(e); } });
  });
}

// drain(req, limit): waits for the rest of a request body, discarding it, so
// a reply is not written under a client that is still sending; gives up (and
// the connection is closed after the reply) past limit bytes.
function drain(req, limit = 8 * 1024 * 1024) {
  return new Promise((resolve) => {
    if (req.complete || req.readableEnded) { resolve(true); return; }
    let size = 0;
    const done = (ok) => { req.removeAllListeners('data'); resolve(ok); };
    req.on('data', (c) => { size += c.length; if (size > limit) { req.pause(); done(false); } });
    req.on('end', () => done(true));
    req.on('error', () => done(false));
    req.resume();
  });
}

module.exports = { DEFAULT_VERSION, StorageError, commonHeaders, xmlEscape, el, send, sendXml, sendError, readBody, drain };
