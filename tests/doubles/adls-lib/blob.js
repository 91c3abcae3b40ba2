// The Blob endpoint on the same data, as a hierarchical-namespace account
// answers it and as the datalake SDKs call it: List Containers, Create /
// Delete / Get Properties / metadata of a container (= filesystem), List
// Blobs (flat or with a delimiter), Get Blob and its properties, Put Blob
// (block blobs, whole), Delete Blob, Set Blob Metadata / HTTP headers. A
// directory is a zero-length blob with metadata hdi_isfolder=true; it is
// listed like a blob, and a Put Blob with that metadata makes a directory.
'use strict';
const { StorageError } = require('../azure-files-lib/http.js');
const { metaFrom } = require('../azure-files-lib/ops.js');
const store = require('./store.js');
const c = require('./common.js');
const { send, sendXml, el, xmlEscape } = require('./reply.js');

const MAX_LIST = 5000;
const { hdr, badQuery, badHeader } = c;

function maxResults(ctx) {
  const v = ctx.query.get('maxresults');
  if (v === undefined) return MAX_LIST;
  if (!/^\d{1,10}$/.test(v) || Number(v) < 1) {
    throw new StorageError(400, 'OutOfRangeQueryParameterValue', 'One of the query parameters specified in the request URI is outside the permissible range.',
      { QueryParameterName: 'maxresults', QueryParameterValue: v, MinimumAllowed: 1 });
  }
  return Math.min(Number(v), MAX_LIST);
}
const includes = (ctx) => new Set((ctx.query.get('include') || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
const metaXml = (meta) => `<Metadata>${Object.entries(meta).map(([k, v]) => el(k, v)).join('')}</Metadata>`;
const fsProps = (fs) => ({ ...c.changed(fs), 'x-ms-lease-status': 'unlocked', 'x-ms-lease-state': 'available',
  'x-ms-has-immutability-policy': 'false', 'x-ms-has-legal-hold': 'false', 'x-ms-default-encryption-scope': '$account-encryption-key',
  'x-ms-deny-encryption-scope-override': 'false', 'x-ms-immutable-storage-with-versioning-enabled': 'false' });

// ===== account and containers =====
function listContainers(ctx) {
  const q = ctx.query, prefix = q.get('prefix') || '', marker = q.get('marker') || '', max = maxResults(ctx);
  const all = [...store.filesystems.values()].filter((f) => f.name.startsWith(prefix) && f.name >= marker)
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const page = all.slice(0, max), next = all[max];
  const withMeta = includes(ctx).has('metadata');
  const items = page.map((f) => `<Container>${el('Name', f.name)}<Properties>${el('Last-Modified', c.httpDate(f.modified))}` +
    `${el('Etag', f.etag)}${el('LeaseStatus', 'unlocked')}${el('LeaseState', 'available')}${el('DefaultEncryptionScope', '$account-encryption-key')}` +
    `${el('DenyEncryptionScopeOverride', 'false')}${el('HasImmutabilityPolicy', 'false')}${el('HasLegalHold', 'false')}` +
    `${el('ImmutableStorageWithVersioningEnabled', 'false')}</Properties>${withMeta ? metaXml(f.meta) : ''}</Container>`);
  sendXml(ctx, 200, `<EnumerationResults ServiceEndpoint="${xmlEscape(ctx.serviceEndpoint)}">` +
    (q.has('prefix') ? el('Prefix', prefix) : '') + (q.has('marker') ? el('Marker', marker) : '') +
    (q.has('maxresults') ? el('MaxResults', max) : '') + `<Containers>${items.join('')}</Containers>${el('NextMarker', next ? next.name : '')}</EnumerationResults>`);
}
function createContainer(ctx) {
  const fs = store.createFs(ctx.fs, metaFrom(ctx));
  send(ctx, 201, c.changed(fs));
}
function deleteContainer(ctx) {
  const fs = store.getFs(ctx.fs);
  c.conditions(ctx, { etag: fs.etag, modified: fs.modified });
  store.filesystems.delete(ctx.fs);
  send(ctx, 202);
}
function containerProperties(ctx) {
  const fs = store.getFs(ctx.fs);
  send(ctx, 200, { ...fsProps(fs), ...Object.fromEntries(Object.entries(fs.meta).map(([k, v]) => [`x-ms-meta-${k}`, v])) });
}
function setContainerMetadata(ctx) {
  const fs = store.getFs(ctx.fs);
  fs.meta = metaFrom(ctx);
  store.touch(fs);
  send(ctx, 200, c.changed(fs));
}

// ===== List Blobs =====
// Every path, by full name in binary order; with a delimiter, what lies
// below the next delimiter rolls up into one BlobPrefix (a directory shows
// as its blob and as its prefix, as on a hierarchical account).
function listBlobs(ctx) {
  const fs = store.getFs(ctx.fs), q = ctx.query;
  const prefix = q.get('prefix') || '', delimiter = q.get('delimiter') || '', marker = q.get('marker') || '';
  const max = maxResults(ctx), inc = includes(ctx);
  const all = [];
  store.walk(fs.root, '', true, (p, node) => { if (p.startsWith(prefix)) all.push([p, node]); });
  all.sort((a, b) => store.byteOrder(a[0], b[0]));
  const out = [];
  let next = '';
  const seen = new Set();
  for (const [p, node] of all) {
    if (marker && store.byteOrder(p, marker) < 0) continue;
    let item = { name: p, node };
    if (delimiter) {
      const i = p.indexOf(delimiter, prefix.length);
      if (i >= 0) {
        const pre = p.slice(0, i + delimiter.length);
        if (seen.has(pre)) continue;
        seen.add(pre);
        item = { prefix: pre };
      }
    }
    if (out.length === max) { next = item.prefix || item.name; break; }
    out.push(item);
  }
  const xml = out.map((it) => (it.prefix !== undefined ? `<BlobPrefix>${el('Name', it.prefix)}</BlobPrefix>` : blobXml(it.name, it.node, inc))).join('');
  sendXml(ctx, 200, `<EnumerationResults ServiceEndpoint="${xmlEscape(ctx.serviceEndpoint)}" ContainerName="${xmlEscape(ctx.fs)}">` +
    (q.has('prefix') ? el('Prefix', prefix) : '') + (q.has('marker') ? el('Marker', marker) : '') +
    (q.has('maxresults') ? el('MaxResults', max) : '') + (delimiter ? el('Delimiter', delimiter) : '') +
    `<Blobs>${xml}</Blobs>${el('NextMarker', next)}</EnumerationResults>`);
}
function blobXml(name, node, inc) {
  const file = node.kind === 'file';
  const h = file ? node.headers : {};
  const props = el('Creation-Time', c.httpDate(node.created)) + el('Last-Modified', c.httpDate(node.modified)) + el('Etag', node.etag) +
    el('ResourceType', file ? 'file' : 'directory') + el('Content-Length', file ? node.size : 0) +
    el('Content-Type', file ? h.contentType : 'application/octet-stream') + el('Content-Encoding', h.contentEncoding) +
    el('Content-Language', h.contentLanguage) + el('Content-CRC64', '') + el('Content-MD5', h.contentMD5) + el('Cache-Control', h.cacheControl) +
    el('Content-Disposition', h.contentDisposition) + el('BlobType', 'BlockBlob') + el('AccessTier', 'Hot') + el('AccessTierInferred', 'true') +
    el('LeaseStatus', 'unlocked') + el('LeaseState', 'available') + el('ServerEncrypted', 'true');
  return `<Blob>${el('Name', name)}<Properties>${props}</Properties>${inc.has('metadata') ? metaXml(c.metaOf(node)) : ''}<OrMetadata /></Blob>`;
}

// ===== blobs =====
// Put Blob: a block blob in one request (bounded, as common.js says);
// parents are made as on a hierarchical account.
async function putBlob(ctx) {
  const type = hdr(ctx, 'x-ms-blob-type');
  if (type === undefined) throw c.missingHeader('x-ms-blob-type');
  if (type !== 'BlockBlob') throw badHeader('x-ms-blob-type', type, 'The double keeps block blobs only (a hierarchical account takes no page blobs).');
  if (hdr(ctx, 'x-ms-copy-source') !== undefined) throw new StorageError(501, 'NotImplemented', 'The double does not implement Put Blob From URL.');
  const meta = metaFrom(ctx);
  const content = c.contentFrom(ctx, 'blob');
  const fs = store.getFs(ctx.fs);
  store.checkDepth(ctx.parts);
  const body = await c.readLimitedBody(ctx);
  const got = c.checkMd5(ctx, 'content-md5', body);
  const isDir = Object.keys(meta).some((k) => k.toLowerCase() === 'hdi_isfolder' && /^true$/i.test(meta[k]));
  const existing = store.find(fs, ctx.parts);
  c.conditions(ctx, existing);
  if (existing && existing.kind !== (isDir ? 'dir' : 'file')) throw store.E.conflict();
  if (isDir && body.length) throw badHeader('Content-Length', String(body.length), 'A directory (hdi_isfolder) has no content.');
  const parent = store.makeParents(fs, ctx.parts);
  const name = ctx.parts[ctx.parts.length - 1];
  const node = isDir ? (existing || store.newDir(name)) : store.newFile(name);
  node.meta = Object.fromEntries(Object.entries(meta).filter(([k]) => k.toLowerCase() !== 'hdi_isfolder'));
  if (!isDir) {
    store.replaceContent(node, body);
    node.headers = { contentType: 'application/octet-stream', ...content };
    if (node.headers.contentMD5 === undefined) node.headers.contentMD5 = got;
  }
  store.touch(node);
  parent.children.set(name, node);
  store.touch(parent);
  send(ctx, 201, { ...c.changed(node), 'content-md5': got, 'x-ms-request-server-encrypted': 'true' });
}
function deleteBlob(ctx) {
  c.removePath(ctx, false);
  send(ctx, 202, { 'x-ms-delete-type-permanent': 'true' });
}
function setBlobMetadata(ctx) {
  const node = c.findPath(ctx);
  c.conditions(ctx, node);
  node.meta = Object.fromEntries(Object.entries(metaFrom(ctx)).filter(([k]) => k.toLowerCase() !== 'hdi_isfolder'));
  store.touch(node);
  send(ctx, 200, { ...c.changed(node), 'x-ms-request-server-encrypted': 'true' });
}
function blobMetadata(ctx) {
  const node = c.findPath(ctx);
  send(ctx, 200, { ...c.changed(node), ...c.metaHeaders(node) });
}
// Set Blob Properties: the content headers given are set, the others cleared.
function setBlobProperties(ctx) {
  const node = c.findPath(ctx);
  c.conditions(ctx, node);
  if (node.kind === 'file') node.headers = c.contentFrom(ctx, 'blob');
  store.touch(node);
  send(ctx, 200, c.changed(node));
}

const notImplemented = (what) => () => { throw new StorageError(501, 'NotImplemented', `The double does not implement ${what}.`); };

module.exports = {
  listContainers, createContainer, deleteContainer, containerProperties, setContainerMetadata, listBlobs,
  getBlob: c.readPath, putBlob, deleteBlob, setBlobMetadata, blobMetadata, setBlobProperties, notImplemented,
};
