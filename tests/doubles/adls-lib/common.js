// What the dfs and Blob endpoints of the ADLS double share: a path's
// headers, conditional requests, reading a file (Get Blob and dfs Read are
// one handler), deleting a path, and the request headers both take.
'use strict';
const crypto = require('crypto');
const { StorageError } = require('../azure-files-lib/http.js');
const { badHeader, badQuery, missingHeader, stream, md5From } = require('../azure-files-lib/ops.js');
const store = require('./store.js');
const { send } = require('./reply.js');

const MiB = 1024 * 1024;
const MAX_BODY = 100 * MiB; // the double's bound on one request body (Azure: 4000 MiB)
const md5 = (buf) => crypto.createHash('md5').update(buf).digest('base64');
const hdr = (ctx, name) => ctx.req.headers[name];
const httpDate = (ms) => new Date(ms).toUTCString();
const unquoted = (etag) => etag.replace(/"/g, '');
const CONTENT = [ // stored property, dfs request header, blob request header, response header
  ['contentType', 'x-ms-content-type', 'x-ms-blob-content-type', 'content-type'],
  ['contentEncoding', 'x-ms-content-encoding', 'x-ms-blob-content-encoding', 'content-encoding'],
  ['contentLanguage', 'x-ms-content-language', 'x-ms-blob-content-language', 'content-language'],
  ['contentDisposition', 'x-ms-content-disposition', 'x-ms-blob-content-disposition', 'content-disposition'],
  ['cacheControl', 'x-ms-cache-control', 'x-ms-blob-cache-control', 'cache-control'],
];

// contentFrom(ctx, api): the content headers given ({prop: value}), with the MD5.
function contentFrom(ctx, api) {
  const out = {};
  for (const [prop, dfsName, blobName] of CONTENT) {
    const v = hdr(ctx, api === 'dfs' ? dfsName : blobName);
    if (v !== undefined) out[prop] = v;
  }
  const m = md5From(ctx, api === 'dfs' ? 'x-ms-content-md5' : 'x-ms-blob-content-md5');
  if (m !== undefined) out.contentMD5 = m;
  return out;
}
// x-ms-properties: "name=base64(value),..." (dfs); kept decoded, as metadata.
function propertiesFrom(ctx) {
  const v = hdr(ctx, 'x-ms-properties');
  if (v === undefined) return undefined;
  const meta = {};
  for (const item of v.split(',').filter((s) => s.trim() !== '')) {
    const eq = item.indexOf('=');
    const name = eq < 0 ? '' : item.slice(0, eq).trim();
    const val = eq < 0 ? '' : item.slice(eq + 1).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || !/^[A-Za-z0-9+/]*={0,2}$/.test(val) || name in meta) throw badHeader('x-ms-properties', v);
    meta[name] = Buffer.from(val, 'base64').toString('utf8');
  }
  if (JSON.stringify(meta).length > 8192) throw new StorageError(400, 'MetadataTooLarge', 'The size of the specified metadata exceeds the maximum size permitted.');
  return meta;
}
const propertiesHeader = (meta) => Object.entries(meta).map(([k, v]) => `${k}=${Buffer.from(v, 'utf8').toString('base64')}`).join(',');
// a directory seen through the Blob API carries hdi_isfolder=true
function metaOf(node) { return node.kind === 'dir' ? { ...node.meta, hdi_isfolder: 'true' } : node.meta; }
function metaHeaders(node) { return Object.fromEntries(Object.entries(metaOf(node)).map(([k, v]) => [`x-ms-meta-${k}`, v])); }

// POSIX permissions: "rwxr-x---" (with an optional sticky t/T and a "+")
// or four octal digits; umask (four octal digits) masks at creation.
function permissionsFrom(ctx, kind) {
  const p = hdr(ctx, 'x-ms-permissions'), u = hdr(ctx, 'x-ms-umask');
  if (u !== undefined && !/^[0-7]{4}$/.test(u)) throw badHeader('x-ms-umask', u);
  let bits;
  if (p === undefined) bits = kind === 'dir' ? 0o777 : 0o666;
  else if (/^[0-7]{4}$/.test(p)) bits = parseInt(p, 8);
  else if (/^([r-][w-][x-]){2}[r-][w-][xtT-]\+?$/.test(p)) bits = symbolicBits(p);
  else throw badHeader('x-ms-permissions', p);
  const mask = u === undefined ? (p === undefined ? 0o027 : 0) : parseInt(u, 8);
  return symbolic(bits & ~mask & 0o1777);
}
function symbolicBits(s) {
  let bits = 0;
  for (let i = 0; i < 9; i++) if (s[i] !== '-' && s[i] !== 'T') bits |= 1 << (8 - i);
  if (s[8] === 't' || s[8] === 'T') bits |= 0o1000;
  if (s[8] === 'T') bits &= ~1;
  return bits;
}
function symbolic(bits) {
  let s = '';
  for (let i = 0; i < 9; i++) s += bits & (1 << (8 - i)) ? 'rwx'[i % 3] : '-';
  if (bits & 0o1000) s = s.slice(0, 8) + (bits & 1 ? 't' : 'T');
  return s;
}
const aclOf = (node) => node.acl || `user::${node.permissions.slice(0, 3)},group::${node.permissions.slice(3, 6)},other::${node.permissions.slice(6, 9).replace(/[tT]/, (c) => (c === 't' ? 'x' : '-'))}`;

// pathHeaders(ctx, node): the properties of a path as Get Blob Properties and
// dfs Get Properties both give them (each endpoint's names, together).
function pathHeaders(ctx, node) {
  const h = { etag: node.etag, 'last-modified': httpDate(node.modified), 'x-ms-creation-time': httpDate(node.created),
    'x-ms-resource-type': node.kind === 'dir' ? 'directory' : 'file', 'x-ms-owner': node.owner, 'x-ms-group': node.group,
    'x-ms-permissions': node.permissions, 'x-ms-acl': aclOf(node), 'x-ms-blob-type': 'BlockBlob', 'accept-ranges': 'bytes',
    'x-ms-lease-state': 'available', 'x-ms-lease-status': 'unlocked', 'x-ms-server-encrypted': 'true',
    'x-ms-access-tier': 'Hot', 'x-ms-access-tier-inferred': 'true', ...metaHeaders(node) };
  if (Object.keys(node.meta).length) h['x-ms-properties'] = propertiesHeader(node.meta);
  if (node.kind === 'file') {
    for (const [prop, , , resName] of CONTENT) if (node.headers[prop] !== undefined) h[resName] = node.headers[prop];
  } else {
    h['content-type'] = 'application/octet-stream';
  }
  if (node.expiresOn) h['x-ms-expiry-time'] = httpDate(node.expiresOn);
  const sas = ctx.auth && ctx.auth.kind === 'sas' ? ctx.auth.sas : {};
  const over = { rscc: 'cache-control', rscd: 'content-disposition', rsce: 'content-encoding', rscl: 'content-language', rsct: 'content-type' };
  for (const [p, name] of Object.entries(over)) if (sas[p]) h[name] = sas[p];
  return h;
}

// conditions(ctx, node, read): If-Match / If-None-Match / If-(Un)Modified-Since
// against the node (null when missing): 412 ConditionNotMet, or 304 for a read.
function conditions(ctx, node, read = false) {
  const failed = () => new StorageError(read ? 304 : 412, read ? 'ConditionNotMet' : 'ConditionNotMet',
    'The condition specified using HTTP conditional header(s) is not met.');
  const match = hdr(ctx, 'if-match'), none = hdr(ctx, 'if-none-match');
  const tags = (v) => v.split(',').map((t) => t.trim());
  if (match !== undefined && (!node || (match.trim() !== '*' && !tags(match).includes(node.etag)))) throw new StorageError(412, 'ConditionNotMet', failed().message);
  if (none !== undefined && node && (none.trim() === '*' || tags(none).includes(node.etag))) throw failed();
  const since = hdr(ctx, 'if-modified-since'), unmod = hdr(ctx, 'if-unmodified-since');
  const secs = (ms) => Math.floor(ms / 1000);
  if (node && since !== undefined && !Number.isNaN(Date.parse(since)) && secs(node.modified) <= secs(Date.parse(since))) throw failed();
  if (node && unmod !== undefined && !Number.isNaN(Date.parse(unmod)) && secs(node.modified) > secs(Date.parse(unmod))) {
    throw new StorageError(412, 'ConditionNotMet', failed().message);
  }
}

// The request's range: x-ms-range first (strict), then Range (a form Azure
// does not take is ignored: the whole file is sent, as Get Blob does).
function requestRange(ctx) {
  const parse = (v) => {
    const m = /^bytes=(\d{1,16})-(\d{0,16})$/.exec(v);
    return m && (m[2] === '' || Number(m[2]) >= Number(m[1])) ? { start: Number(m[1]), end: m[2] === '' ? null : Number(m[2]) } : null;
  };
  const x = hdr(ctx, 'x-ms-range');
  if (x !== undefined) {
    const r = parse(x);
    if (!r) throw badHeader('x-ms-range', x);
    return r;
  }
  return hdr(ctx, 'range') === undefined ? null : parse(hdr(ctx, 'range'));
}

function findPath(ctx) {
  const node = store.find(store.getFs(ctx.fs), ctx.parts);
  if (!node) throw store.E.pathNotFound();
  return node;
}
// Get Blob / dfs Read: the committed content; a directory reads as an empty blob.
async function readPath(ctx) {
  const node = findPath(ctx);
  conditions(ctx, node, true);
  const h = pathHeaders(ctx, node);
  const size = node.kind === 'file' ? node.size : 0;
  const stored = node.kind === 'file' ? node.headers.contentMD5 : undefined;
  const range = requestRange(ctx);
  const wantMd5 = /^true$/i.test(hdr(ctx, 'x-ms-range-get-content-md5') || '');
  if (!range) {
    if (wantMd5) throw missingHeader('x-ms-range');
    if (stored) h['content-md5'] = stored;
    if (ctx.req.method === 'HEAD' || size === 0) return send(ctx, 200, { ...h, 'content-length': String(size) });
    return stream(ctx, 200, { ...h, 'content-length': String(size) }, node, 0, size);
  }
  if (range.start >= size) {
    throw new StorageError(416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.', {}, { 'content-range': `bytes */${size}` });
  }
  const end = Math.min(range.end === null ? size - 1 : range.end, size - 1) + 1;
  h['content-range'] = `bytes ${range.start}-${end - 1}/${size}`;
  if (stored) { h['x-ms-blob-content-md5'] = stored; h['x-ms-content-md5'] = stored; }
  if (wantMd5) {
    if (end - range.start > 4 * MiB) throw badHeader('x-ms-range-get-content-md5', 'true', 'The range must be 4 MiB or smaller to get its MD5.');
    const buf = store.readRange(node, range.start, end);
    return send(ctx, 206, { ...h, 'content-md5': md5(buf) }, buf);
  }
  return stream(ctx, 206, { ...h, 'content-length': String(end - range.start) }, node, range.start, end);
}

// removePath(ctx, recursive): a file, or a directory (with what it holds
// only when recursive); 409 DirectoryNotEmpty otherwise.
function removePath(ctx, recursive) {
  const fs = store.getFs(ctx.fs);
  const node = store.find(fs, ctx.parts);
  if (!node) throw store.E.pathNotFound();
  conditions(ctx, node);
  if (node.kind === 'dir' && node.children.size && !recursive) {
    throw new StorageError(409, 'DirectoryNotEmpty', 'The recursive query parameter value must be true to delete a non-empty directory.');
  }
  const parent = store.parentOf(fs, ctx.parts);
  parent.children.delete(ctx.parts[ctx.parts.length - 1]);
  store.touch(parent);
}

// readLimitedBody(ctx): the body within MAX_BODY; the 413 comes before reading.
async function readLimitedBody(ctx) {
  const cl = hdr(ctx, 'content-length');
  if (cl === undefined && hdr(ctx, 'transfer-encoding') === undefined) {
    throw new StorageError(411, 'MissingContentLengthHeader', 'Content-Length HTTP header is missing.');
  }
  if (cl !== undefined && Number(cl) > MAX_BODY) {
    throw new StorageError(413, 'RequestBodyTooLarge', 'The request body is too large and exceeds the maximum permissible limit.', { MaxLimit: MAX_BODY });
  }
  return require('../azure-files-lib/http.js').readBody(ctx.req, MAX_BODY);
}
function checkMd5(ctx, name, body) {
  const want = md5From(ctx, name), got = md5(body);
  if (want !== undefined && want !== got) {
    throw new StorageError(400, 'Md5Mismatch', 'The MD5 value specified in the request did not match with the MD5 value calculated by the server.',
      { UserSpecifiedMd5: want, ServerCalculatedMd5: got });
  }
  return got;
}
const changed = (node) => ({ etag: node.etag, 'last-modified': httpDate(node.modified) });

module.exports = {
  MAX_BODY, CONTENT, md5, hdr, httpDate, unquoted, contentFrom, propertiesFrom, propertiesHeader, metaOf, metaHeaders,
  permissionsFrom, aclOf, pathHeaders, conditions, findPath, readPath, removePath, readLimitedBody, checkMd5, changed,
  badHeader, badQuery, missingHeader,
};
