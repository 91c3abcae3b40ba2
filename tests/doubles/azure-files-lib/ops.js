// The operations: one handler per (method, level, comp), in ROUTES at the
// end with the SAS permission each needs (any one of the letters) and the
// account-SAS resource type it belongs to.
'use strict';
const crypto = require('crypto');
const { StorageError, el, xmlEscape, send, sendXml, readBody, commonHeaders } = require('./http.js');
const store = require('./store.js');

const MAX_RANGE = 4 * 1024 * 1024;
const MAX_LIST = 5000;
const STREAM_CHUNK = 1024 * 1024;
const CONTENT_HEADERS = [ // stored property, request header, response header
  ['contentType', 'x-ms-content-type', 'content-type'],
  ['contentEncoding', 'x-ms-content-encoding', 'content-encoding'],
  ['contentLanguage', 'x-ms-content-language', 'content-language'],
  ['contentDisposition', 'x-ms-content-disposition', 'content-disposition'],
  ['cacheControl', 'x-ms-cache-control', 'cache-control'],
];
const ATTRIBUTES = ['ReadOnly', 'Hidden', 'System', 'None', 'Directory', 'Archive', 'Temporary', 'Offline',
  'NotContentIndexed', 'NoScrubData'];

const md5 = (buf) => crypto.createHash('md5').update(buf).digest('base64');
const hdr = (ctx, name) => ctx.req.headers[name];
const badHeader = (name, value, why = 'The value for one of the HTTP headers is not in the correct format.') =>
  new StorageError(400, 'InvalidHeaderValue', why, { HeaderName: name, HeaderValue: value });
const missingHeader = (name) => new StorageError(400, 'MissingRequiredHeader',
  'An HTTP header that\'s mandatory for this request is not specified.', { HeaderName: name });
const badQuery = (name, value, reason) => new StorageError(400, 'InvalidQueryParameterValue',
  'Value for one of the query parameters specified in the request URI is invalid.',
  { QueryParameterName: name, QueryParameterValue: value, Reason: reason });
const httpDate = (ms) => new Date(ms).toUTCString();

// --- request headers into properties ---
function metaFrom(ctx) {
  const meta = {};
  let size = 0;
  const raw = ctx.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (!/^x-ms-meta-/i.test(raw[i])) continue;
    const name = raw[i].slice(10);
    if (!/^[\p{L}_][\p{L}\p{Nd}_]*$/u.test(name)) {
      throw new StorageError(400, 'InvalidMetadata', 'The metadata specified is invalid. It has characters that are not permitted.');
    }
    if (Object.keys(meta).some((k) => k.toLowerCase() === name.toLowerCase())) {
      throw new StorageError(400, 'InvalidMetadata', 'The metadata specified is invalid. It has duplicate names.');
    }
    meta[name] = raw[i + 1];
    size += name.length + raw[i + 1].length;
  }
  if (size > 8192) throw new StorageError(400, 'MetadataTooLarge', 'The size of the specified metadata exceeds the maximum size permitted.');
  return meta;
}
const metaHeaders = (meta) => Object.fromEntries(Object.entries(meta).map(([k, v]) => [`x-ms-meta-${k}`, v]));

function md5From(ctx, name) {
  const v = hdr(ctx, name);
  if (v === undefined) return undefined;
  if (!/^[A-Za-z0-9+/]{22}==$/.test(v)) {
    throw new StorageError(400, 'InvalidMd5', 'The MD5 value specified in the request is invalid. The MD5 value must be 128 bits and Base64-encoded.');
  }
  return v;
}
// contentFrom(ctx): the content headers of a Create File or Set File
// Properties: what is given is set, what is not is cleared (as the
// reference says for Set File Properties).
function contentFrom(ctx) {
  const out = {};
  for (const [prop, reqName] of CONTENT_HEADERS) if (hdr(ctx, reqName) !== undefined) out[prop] = hdr(ctx, reqName);
  const m = md5From(ctx, 'x-ms-content-md5');
  if (m !== undefined) out.contentMD5 = m;
  return out;
}
function sizeFrom(ctx, required) {
  const v = hdr(ctx, 'x-ms-content-length');
  if (v === undefined) { if (required) throw missingHeader('x-ms-content-length'); return undefined; }
  if (!/^\d{1,16}$/.test(v) || Number(v) > store.MAX_FILE_SIZE) throw badHeader('x-ms-content-length', v);
  return Number(v);
}
function timeFrom(ctx, name, old) {
  const v = hdr(ctx, name);
  if (v === undefined || /^preserve$/i.test(v)) return old;
  if (/^now$/i.test(v)) return Date.now();
  const t = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,7})?Z$/.test(v) ? Date.parse(v.replace(/(\.\d{3})\d+Z$/, '$1Z')) : NaN;
  if (Number.isNaN(t)) throw badHeader(name, v);
  return t;
}
// SMB properties: x-ms-file-attributes / -creation-time / -last-write-time /
// -change-time / -permission / -permission-key; 'preserve', 'now', 'inherit'.
function smbFrom(ctx, node) {
  const smb = { ...node.smb };
  const a = hdr(ctx, 'x-ms-file-attributes');
  if (a !== undefined && !/^(preserve|source)$/i.test(a)) {
    const parts = a.split('|').map((p) => p.trim()).filter(Boolean);
    const canon = parts.map((p) => ATTRIBUTES.find((x) => x.toLowerCase() === p.toLowerCase()));
    if (canon.includes(undefined)) throw badHeader('x-ms-file-attributes', a);
    const kept = canon.filter((x) => x !== 'None' && x !== 'Directory');
    smb.attributes = node.kind === 'dir' ? ['Directory', ...kept].join(' | ') : kept.length ? kept.join(' | ') : 'None';
  }
  smb.created = timeFrom(ctx, 'x-ms-file-creation-time', smb.created);
  smb.written = timeFrom(ctx, 'x-ms-file-last-write-time', smb.written);
  smb.changed = timeFrom(ctx, 'x-ms-file-change-time', Date.now());
  const perm = hdr(ctx, 'x-ms-file-permission');
  if (perm !== undefined && perm.length > 8192) throw badHeader('x-ms-file-permission', '(too long)', 'The permission is larger than 8 KiB; use x-ms-file-permission-key.');
  if (perm !== undefined && !/^(inherit|preserve)$/i.test(perm)) {
    smb.permissionKey = `${BigInt.asUintN(63, BigInt('0x' + crypto.createHash('sha256').update(perm).digest('hex').slice(0, 16)))}*1`;
  }
  const key = hdr(ctx, 'x-ms-file-permission-key');
  if (key !== undefined) smb.permissionKey = key;
  node.smb = smb;
}
function smbHeaders(node, parent) {
  return {
    'x-ms-file-attributes': node.smb.attributes,
    'x-ms-file-creation-time': store.isoTime(node.smb.created),
    'x-ms-file-last-write-time': store.isoTime(node.smb.written),
    'x-ms-file-change-time': store.isoTime(node.smb.changed),
    'x-ms-file-permission-key': node.smb.permissionKey,
    'x-ms-file-id': node.fileId,
    'x-ms-file-parent-id': parent ? parent.fileId : '0',
  };
}
const changed = (node) => ({ etag: node.etag, 'last-modified': httpDate(node.modified) });

// parseRange(value, name): {start, end} (end null when open); Azure's two forms only.
function parseRange(value, name) {
  const m = /^bytes=(\d{1,16})-(\d{0,16})$/.exec(value);
  if (!m || (m[2] !== '' && Number(m[2]) < Number(m[1]))) throw badHeader(name, value);
  return { start: Number(m[1]), end: m[2] === '' ? null : Number(m[2]) };
}
function requestRange(ctx) {
  if (hdr(ctx, 'x-ms-range') !== undefined) return parseRange(hdr(ctx, 'x-ms-range'), 'x-ms-range');
  if (hdr(ctx, 'range') !== undefined) return parseRange(hdr(ctx, 'range'), 'Range');
  return null;
}
const invalidRange = (size) => new StorageError(416, 'InvalidRange', 'The range specified is invalid for the current size of the resource.',
  {}, { 'content-range': `bytes */${size}` });

// --- where a request points ---
function share(ctx) { return store.getShare(ctx.share); }
function found(ctx) { return store.lookup(share(ctx), ctx.parts); }
function noLeases(ctx) {
  if (hdr(ctx, 'x-ms-lease-id') !== undefined) {
    throw new StorageError(412, 'LeaseNotPresentWithFileOperation', 'There is currently no lease on the file.');
  }
}

// ===== service =====
function listShares(ctx) {
  const q = ctx.query;
  const prefix = q.get('prefix') || '', marker = q.get('marker') || '';
  const max = maxResults(ctx);
  const include = listOf(q.get('include'), ['metadata', 'snapshots', 'deleted'], 'include');
  const all = [...store.shares.values()].filter((s) => s.name.startsWith(prefix) && s.name >= marker)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const page = all.slice(0, max.value), next = all[max.value];
  const items = page.map((s) => `<Share>${el('Name', s.name)}<Properties>${el('Last-Modified', httpDate(s.modified))}` +
    `${el('Etag', s.etag)}${el('Quota', s.quota)}${el('AccessTier', 'TransactionOptimized')}` +
    `${el('LeaseStatus', 'unlocked')}${el('LeaseState', 'available')}</Properties>` +
    (include.has('metadata') ? `<Metadata>${Object.entries(s.meta).map(([k, v]) => el(k, v)).join('')}</Metadata>` : '') + '</Share>');
  sendXml(ctx, 200, `<EnumerationResults ServiceEndpoint="${xmlEscape(ctx.serviceEndpoint)}">` +
    (q.has('prefix') ? el('Prefix', prefix) : '') + (q.has('marker') ? el('Marker', marker) : '') +
    (max.given ? el('MaxResults', max.value) : '') + `<Shares>${items.join('')}</Shares>${el('NextMarker', next ? next.name : '')}</EnumerationResults>`);
}
let serviceProperties = '<StorageServiceProperties><HourMetrics><Version>1.0</Version><Enabled>false</Enabled>' +
  '<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></HourMetrics><MinuteMetrics><Version>1.0</Version>' +
  '<Enabled>false</Enabled><RetentionPolicy><Enabled>false</Enabled></RetentionPolicy></MinuteMetrics><Cors /></StorageServiceProperties>';
function getServiceProperties(ctx) { sendXml(ctx, 200, serviceProperties); }
async function setServiceProperties(ctx) {
  const body = (await readBody(ctx.req, 64 * 1024)).toString('utf8').replace(/^\uFEFF?<\?xml[^>]*\?>/, '').trim();
  if (!/^<StorageServiceProperties>[\s\S]*<\/StorageServiceProperties>$/.test(body)) {
    throw new StorageError(400, 'InvalidXmlDocument', 'XML specified is not syntactically valid.');
  }
  serviceProperties = body;
  send(ctx, 202);
}

// ===== share =====
function createShare(ctx) {
  const qh = hdr(ctx, 'x-ms-share-quota');
  if (qh !== undefined && (!/^\d{1,6}$/.test(qh) || +qh < 1 || +qh > 102400)) throw badHeader('x-ms-share-quota', qh);
  const s = store.createShare(ctx.share, metaFrom(ctx), qh ? +qh : 5120);
  send(ctx, 201, changed(s));
}
function deleteShare(ctx) {
  share(ctx);
  store.shares.delete(ctx.share);
  send(ctx, 202);
}
function shareProperties(ctx) {
  const s = share(ctx);
  send(ctx, 200, { ...changed(s), ...metaHeaders(s.meta), 'x-ms-share-quota': String(s.quota), 'x-ms-access-tier': 'TransactionOptimized',
    'x-ms-lease-status': 'unlocked', 'x-ms-lease-state': 'available', 'x-ms-enabled-protocols': 'SMB' });
}
function setShareMetadata(ctx) {
  const s = share(ctx);
  s.meta = metaFrom(ctx);
  s.etag = store.newEtag();
  s.modified = Date.now();
  send(ctx, 200, changed(s));
}
function shareMetadata(ctx) { const s = share(ctx); send(ctx, 200, { ...changed(s), ...metaHeaders(s.meta) }); }

// ===== directory =====
function createDirectory(ctx) {
  const f = found(ctx);
  if (f.node) {
    if (f.node.kind === 'dir') throw new StorageError(409, 'ResourceAlreadyExists', 'The specified resource already exists.');
    throw new StorageError(409, 'ResourceTypeMismatch', 'The specified resource type does not match the type of the existing resource.');
  }
  const d = store.newDir(ctx.parts[ctx.parts.length - 1]);
  d.meta = metaFrom(ctx);
  smbFrom(ctx, d);
  f.parent.children.set(f.key, d);
  store.touch(f.parent);
  send(ctx, 201, { ...changed(d), 'x-ms-request-server-encrypted': 'true', ...smbHeaders(d, f.parent) });
}
function directoryProperties(ctx) {
  const f = found(ctx), d = store.need(f, 'dir');
  send(ctx, 200, { ...changed(d), ...metaHeaders(d.meta), 'x-ms-server-encrypted': 'true', ...smbHeaders(d, f.parent) });
}
function deleteDirectory(ctx) {
  const f = found(ctx), d = store.need(f, 'dir');
  if (!f.parent) throw new StorageError(400, 'InvalidUri', 'The root directory of a share cannot be deleted.');
  if (d.children.size) throw new StorageError(409, 'DirectoryNotEmpty', 'The specified directory is not empty.');
  f.parent.children.delete(f.key);
  store.touch(f.parent);
  send(ctx, 202);
}
function setDirectoryProperties(ctx) {
  const f = found(ctx), d = store.need(f, 'dir');
  smbFrom(ctx, d);
  store.touch(d);
  send(ctx, 200, { ...changed(d), 'x-ms-request-server-encrypted': 'true', ...smbHeaders(d, f.parent) });
}
function setMetadata(kind) {
  return (ctx) => {
    if (kind === 'file') noLeases(ctx);
    const n = store.need(found(ctx), kind);
    n.meta = metaFrom(ctx);
    store.touch(n);
    send(ctx, 200, { ...changed(n), 'x-ms-request-server-encrypted': 'true' });
  };
}
function getMetadata(kind) {
  return (ctx) => { const n = store.need(found(ctx), kind); send(ctx, 200, { ...changed(n), ...metaHeaders(n.meta) }); };
}

function maxResults(ctx) {
  const v = ctx.query.get('maxresults');
  if (v === undefined) return { value: MAX_LIST, given: false };
  if (!/^\d{1,10}$/.test(v) || Number(v) < 1) {
    throw new StorageError(400, 'OutOfRangeQueryParameterValue', 'One of the query parameters specified in the request URI is outside the permissible range.',
      { QueryParameterName: 'maxresults', QueryParameterValue: v, MinimumAllowed: 1 });
  }
  return { value: Math.min(Number(v), MAX_LIST), given: true };
}
function listOf(value, allowed, name) {
  const out = new Set();
  for (const item of (value || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (!allowed.includes(item)) throw badQuery(name, value, `'${item}' is not one of ${allowed.join(', ')}`);
    out.add(item);
  }
  return out;
}
// List Directories and Files: entries in the order of compareNames (by
// case-folded name); prefix matches case-insensitively; the marker is the
// name of the first entry of the next page.
function listDirectory(ctx) {
  const f = found(ctx), d = store.need(f, 'dir');
  const q = ctx.query;
  const prefix = store.fold(q.get('prefix') || ''), marker = q.get('marker') || '';
  const max = maxResults(ctx);
  const include = listOf(q.get('include'), ['timestamps', 'etag', 'attributes', 'permissionkey'], 'include');
  const extended = /^true$/i.test(hdr(ctx, 'x-ms-file-extended-info') || '');
  const all = [...d.children.values()].filter((n) => store.fold(n.name).startsWith(prefix) &&
    (!marker || store.compareNames(n.name, marker) >= 0)).sort((a, b) => store.compareNames(a.name, b.name));
  const page = all.slice(0, max.value), next = all[max.value];
  const entries = page.map((n) => listEntry(n, include, extended || include.size > 0)).join('');
  sendXml(ctx, 200, `<EnumerationResults ServiceEndpoint="${xmlEscape(ctx.serviceEndpoint)}" ShareName="${xmlEscape(ctx.share)}" ` +
    `DirectoryPath="${xmlEscape(ctx.pathInShare)}">` + (q.has('prefix') ? el('Prefix', q.get('prefix')) : '') +
    (q.has('marker') ? el('Marker', marker) : '') + (max.given ? el('MaxResults', max.value) : '') +
    (extended ? el('DirectoryId', d.fileId) : '') + `<Entries>${entries}</Entries>${el('NextMarker', next ? next.name : '')}</EnumerationResults>`);
}
function listEntry(n, include, withId) {
  const tag = n.kind === 'dir' ? 'Directory' : 'File';
  let props = n.kind === 'file' ? el('Content-Length', n.size) : '';
  if (include.has('timestamps')) {
    props += el('CreationTime', store.isoTime(n.smb.created)) + el('LastAccessTime', store.isoTime(n.smb.accessed)) +
      el('LastWriteTime', store.isoTime(n.smb.written)) + el('ChangeTime', store.isoTime(n.smb.changed)) +
      el('Last-Modified', httpDate(n.modified));
  }
  if (include.has('etag')) props += el('Etag', n.etag);
  return `<${tag}>${el('Name', n.name)}${withId ? el('FileId', n.fileId) : ''}<Properties>${props}</Properties>` +
    (include.has('attributes') ? el('Attributes', n.smb.attributes) : '') +
    (include.has('permissionkey') ? el('PermissionKey', n.smb.permissionKey) : '') + `</${tag}>`;
}

// ===== file =====
function createFile(ctx) {
  if (hdr(ctx, 'x-ms-copy-source') !== undefined) notImplemented('Copy File')();
  const type = hdr(ctx, 'x-ms-type');
  if (type === undefined) throw missingHeader('x-ms-type');
  if (type.toLowerCase() !== 'file') throw badHeader('x-ms-type', type);
  const size = sizeFrom(ctx, true);
  noLeases(ctx);
  const f = found(ctx);
  if (!f.parent) throw new StorageError(400, 'InvalidUri', 'The requested URI does not represent any resource on the server.');
  if (f.node && f.node.kind === 'dir') {
    throw new StorageError(409, 'ResourceTypeMismatch', 'The specified resource type does not match the type of the existing resource.');
  }
  // Replacing keeps the existing name's case and file id (it is the same directory entry).
  const file = store.newFile(f.node ? f.node.name : ctx.parts[ctx.parts.length - 1], size);
  if (f.node) file.fileId = f.node.fileId;
  file.headers = contentFrom(ctx);
  file.meta = metaFrom(ctx);
  smbFrom(ctx, file);
  f.parent.children.set(f.key, file);
  send(ctx, 201, { ...changed(file), 'x-ms-request-server-encrypted': 'true', ...smbHeaders(file, f.parent) });
}
function fileHeaders(ctx, file, parent) {
  const h = { ...changed(file), ...metaHeaders(file.meta), 'x-ms-type': 'File', 'content-type': 'application/octet-stream',
    'x-ms-server-encrypted': 'true', 'accept-ranges': 'bytes', 'x-ms-lease-state': 'available', 'x-ms-lease-status': 'unlocked',
    ...smbHeaders(file, parent) };
  for (const [prop, , resName] of CONTENT_HEADERS) if (file.headers[prop] !== undefined) h[resName] = file.headers[prop];
  // a SAS may override the response headers (rscc, rscd, rsce, rscl, rsct)
  const sas = ctx.auth && ctx.auth.kind === 'sas' ? ctx.auth.sas : {};
  const over = { rscc: 'cache-control', rscd: 'content-disposition', rsce: 'content-encoding', rscl: 'content-language', rsct: 'content-type' };
  for (const [p, name] of Object.entries(over)) if (sas[p]) h[name] = sas[p];
  return h;
}
function fileProperties(ctx) {
  const f = found(ctx), file = store.need(f, 'file');
  const h = fileHeaders(ctx, file, f.parent);
  if (file.headers.contentMD5) h['content-md5'] = file.headers.contentMD5;
  send(ctx, 200, { ...h, 'content-length': String(file.size) });
}
async function getFile(ctx) {
  const f = found(ctx), file = store.need(f, 'file');
  const range = requestRange(ctx);
  const wantMd5 = /^true$/i.test(hdr(ctx, 'x-ms-range-get-content-md5') || '');
  const h = fileHeaders(ctx, file, f.parent);
  if (!range) {
    if (wantMd5) throw missingHeader('Range');
    if (file.headers.contentMD5) h['content-md5'] = file.headers.contentMD5;
    return stream(ctx, 200, { ...h, 'content-length': String(file.size) }, file, 0, file.size);
  }
  if (range.start >= file.size) throw invalidRange(file.size);
  const end = Math.min(range.end === null ? file.size - 1 : range.end, file.size - 1) + 1;
  h['content-range'] = `bytes ${range.start}-${end - 1}/${file.size}`;
  if (file.headers.contentMD5) h['x-ms-content-md5'] = file.headers.contentMD5;
  if (wantMd5) {
    if (end - range.start > MAX_RANGE) throw badHeader('x-ms-range-get-content-md5', 'true', 'The range must be 4 MiB or smaller to get its MD5.');
    const buf = store.readRange(file, range.start, end);
    return send(ctx, 206, { ...h, 'content-md5': md5(buf) }, buf);
  }
  return stream(ctx, 206, { ...h, 'content-length': String(end - range.start) }, file, range.start, end);
}
// stream: sends [start, end) of the file a piece at a time, waiting for the
// client to take each, so a 1 GiB file is never one buffer.
async function stream(ctx, status, headers, file, start, end) {
  const res = ctx.res;
  ctx.status = status;
  res.writeHead(status, { ...commonHeaders(ctx), ...headers });
  for (let pos = start; pos < end && !res.destroyed;) {
    const n = Math.min(STREAM_CHUNK, end - pos);
    const buf = store.readRange(file, pos, pos + n);
    pos += n;
    if (!res.write(buf)) {
      await new Promise((r) => {
        const done = () => { res.off('drain', done); res.off('close', done); r(); };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}
async function putRange(ctx) {
  if (hdr(ctx, 'x-ms-copy-source') !== undefined) notImplemented('Put Range From URL')();
  const write = hdr(ctx, 'x-ms-write');
  if (write === undefined) throw missingHeader('x-ms-write');
  if (!/^(update|clear)$/i.test(write)) throw badHeader('x-ms-write', write);
  const range = requestRange(ctx);
  if (!range) throw missingHeader('Range');
  if (range.end === null) throw badHeader(hdr(ctx, 'x-ms-range') !== undefined ? 'x-ms-range' : 'Range', `bytes=${range.start}-`);
  const cl = hdr(ctx, 'content-length');
  if (cl === undefined) throw new StorageError(411, 'MissingContentLengthHeader', 'Content-Length HTTP header is missing.');
  const length = range.end - range.start + 1;
  const clear = write.toLowerCase() === 'clear';
  if (!clear && (Number(cl) > MAX_RANGE || length > MAX_RANGE)) {
    throw new StorageError(413, 'RequestBodyTooLarge', 'The request body is too large and exceeds the maximum permissible limit.', { MaxLimit: MAX_RANGE });
  }
  if (clear && cl !== '0') throw badHeader('Content-Length', cl, 'Content-Length must be 0 for x-ms-write: clear.');
  if (clear && hdr(ctx, 'content-md5') !== undefined) throw badHeader('Content-MD5', hdr(ctx, 'content-md5'), 'Content-MD5 is not allowed with x-ms-write: clear.');
  if (!clear && Number(cl) !== length) throw badHeader('Content-Length', cl, 'Content-Length does not match the length of the range.');
  const want = clear ? undefined : md5From(ctx, 'content-md5');
  noLeases(ctx);
  const f = found(ctx), file = store.need(f, 'file');
  if (range.end >= file.size) throw invalidRange(file.size);
  const h = {};
  if (clear) {
    store.clearRange(file, range.start, range.end + 1);
  } else {
    const body = await readBody(ctx.req, MAX_RANGE);
    if (body.length !== length) throw badHeader('Content-Length', cl);
    const got = md5(body);
    if (want !== undefined && want !== got) {
      throw new StorageError(400, 'Md5Mismatch', 'The MD5 value specified in the request did not match with the MD5 value calculated by the server.',
        { UserSpecifiedMd5: want, ServerCalculatedMd5: got });
    }
    if (file !== store.need(found(ctx), 'file')) throw new StorageError(404, 'ResourceNotFound', 'The specified resource does not exist.');
    if (range.end >= file.size) throw invalidRange(file.size);
    store.writeRange(file, range.start, body);
    h['content-md5'] = got;
  }
  if (!/^preserve$/i.test(hdr(ctx, 'x-ms-file-last-write-time') || '')) file.smb.written = Date.now();
  store.touch(file);
  send(ctx, 201, { ...changed(file), ...h, 'x-ms-request-server-encrypted': 'true',
    'x-ms-file-last-write-time': store.isoTime(file.smb.written) });
}
function setFileProperties(ctx) {
  const size = sizeFrom(ctx, false);
  const headers = contentFrom(ctx);
  noLeases(ctx);
  const f = found(ctx), file = store.need(f, 'file');
  smbFrom(ctx, file);
  if (size !== undefined) store.resize(file, size);
  file.headers = headers;
  store.touch(file);
  send(ctx, 200, { ...changed(file), 'x-ms-request-server-encrypted': 'true', ...smbHeaders(file, f.parent) });
}
function deleteFile(ctx) {
  noLeases(ctx);
  const f = found(ctx);
  store.need(f, 'file');
  f.parent.children.delete(f.key);
  store.touch(f.parent);
  send(ctx, 202);
}
function listRanges(ctx) {
  if (ctx.query.has('prevsharesnapshot')) throw new StorageError(404, 'ShareSnapshotNotFound', 'The specified share snapshot does not exist.');
  const file = store.need(found(ctx), 'file');
  const range = requestRange(ctx);
  const end = range ? Math.min(range.end === null ? file.size : range.end + 1, file.size) : file.size;
  const ranges = store.rangeList(file, range ? range.start : 0, end);
  sendXml(ctx, 200, `<Ranges>${ranges.map(([s, e]) => `<Range><Start>${s}</Start><End>${e}</End></Range>`).join('')}</Ranges>`,
    { ...changed(file), 'x-ms-content-length': String(file.size) });
}

// ===== rename (files and directories) =====
// The source is x-ms-file-rename-source: a URL or a path, maybe with a SAS.
// Under a SAS the destination needs w (ROUTES) and the source d: a rename
// removes the source (the double's reading; the reference does not say).
function rename(kind) {
  return (ctx) => {
    if (ctx.version < '2021-04-10') throw badHeader('x-ms-version', ctx.version, 'Rename requires version 2021-04-10 or later.');
    const src = hdr(ctx, 'x-ms-file-rename-source');
    if (src === undefined) throw missingHeader('x-ms-file-rename-source');
    const replace = hdr(ctx, 'x-ms-file-rename-replace-if-exists');
    if (replace !== undefined && !/^(true|false)$/i.test(replace)) throw badHeader('x-ms-file-rename-replace-if-exists', replace);
    const source = ctx.resolveSource(src, kind); // {share, parts, auth}
    if (source.share !== ctx.share) throw badHeader('x-ms-file-rename-source', src, 'The source must be in the same share.');
    const sh = share(ctx);
    const from = store.lookup(sh, source.parts), node = store.need(from, kind);
    if (!from.parent) throw badHeader('x-ms-file-rename-source', src, 'The root directory cannot be renamed.');
    const to = found(ctx);
    if (!to.parent) throw new StorageError(409, 'ResourceAlreadyExists', 'The specified resource already exists.');
    for (let p = to.parent; kind === 'dir' && p; p = parentOf(sh.root, p)) {
      if (p === node) throw new StorageError(400, 'InvalidResourceName', 'A directory cannot be moved into itself.');
    }
    if (to.node && to.node !== node) {
      if (to.node.kind !== node.kind) throw new StorageError(409, 'ResourceTypeMismatch', 'The specified resource type does not match the type of the existing resource.');
      if (!/^true$/i.test(replace || '')) throw new StorageError(409, 'ResourceAlreadyExists', 'The specified resource already exists.');
      if (kind === 'dir' && to.node.children.size) throw new StorageError(409, 'DirectoryNotEmpty', 'The specified directory is not empty.');
    }
    // all checks done: one synchronous step, so no request sees half a rename
    from.parent.children.delete(from.key);
    node.name = ctx.parts[ctx.parts.length - 1];
    to.parent.children.set(to.key, node);
    if (kind === 'file' && hdr(ctx, 'x-ms-content-type') !== undefined) node.headers.contentType = hdr(ctx, 'x-ms-content-type');
    if (ctx.req.rawHeaders.some((h, i) => i % 2 === 0 && /^x-ms-meta-/i.test(h))) node.meta = metaFrom(ctx);
    smbFrom(ctx, node);
    store.touch(node);
    store.touch(from.parent);
    if (to.parent !== from.parent) store.touch(to.parent);
    send(ctx, 200, { ...changed(node), 'x-ms-request-server-encrypted': 'true', ...smbHeaders(node, to.parent) });
  };
}
function parentOf(root, target) {
  const walk = (d) => {
    for (const c of d.children.values()) {
      if (c === target) return d;
      if (c.kind === 'dir') { const r = walk(c); if (r) return r; }
    }
    return null;
  };
  return walk(root);
}

const notImplemented = (what) => () => {
  throw new StorageError(501, 'NotImplemented', `The double does not implement ${what}.`);
};

// key: "METHOD level comp" -> [handler, SAS permission letters (any), account-SAS resource type]
const ROUTES = {
  'GET service list': [listShares, 'l'],
  'GET service properties': [getServiceProperties, 'r'],
  'PUT service properties': [setServiceProperties, 'w'],
  'PUT share ': [createShare, 'cw'],
  'DELETE share ': [deleteShare, 'd'],
  'GET share ': [shareProperties, 'r'],
  'HEAD share ': [shareProperties, 'r'],
  'PUT share metadata': [setShareMetadata, 'w'],
  'GET share metadata': [shareMetadata, 'r'],
  'HEAD share metadata': [shareMetadata, 'r'],
  'PUT share snapshot': [notImplemented('share snapshots'), 'cw'],
  'PUT share lease': [notImplemented('leases'), 'w'],
  'PUT directory ': [createDirectory, 'cw'],
  'GET directory ': [directoryProperties, 'r'],
  'HEAD directory ': [directoryProperties, 'r'],
  'DELETE directory ': [deleteDirectory, 'd'],
  'PUT directory properties': [setDirectoryProperties, 'w'],
  'PUT directory metadata': [setMetadata('dir'), 'w'],
  'GET directory metadata': [getMetadata('dir'), 'r'],
  'HEAD directory metadata': [getMetadata('dir'), 'r'],
  'GET directory list': [listDirectory, 'l'],
  'PUT directory rename': [rename('dir'), 'w'],
  'GET directory listhandles': [notImplemented('handles'), 'l'],
  'PUT file ': [createFile, 'cw'],
  'GET file ': [getFile, 'r'],
  'HEAD file ': [fileProperties, 'r'],
  'DELETE file ': [deleteFile, 'd'],
  'PUT file range': [putRange, 'w'],
  'PUT file properties': [setFileProperties, 'w'],
  'PUT file metadata': [setMetadata('file'), 'w'],
  'GET file metadata': [getMetadata('file'), 'r'],
  'HEAD file metadata': [getMetadata('file'), 'r'],
  'GET file rangelist': [listRanges, 'r'],
  'PUT file rename': [rename('file'), 'w'],
  'PUT file lease': [notImplemented('leases'), 'w'],
  'PUT file copy': [notImplemented('Copy File'), 'w'],
  'GET file listhandles': [notImplemented('handles'), 'l'],
};

module.exports = { ROUTES, badQuery, badHeader, missingHeader, stream, metaFrom, md5From };
