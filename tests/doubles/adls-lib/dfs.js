// The dfs endpoint ("Azure Data Lake Storage Gen2 REST API"): Filesystem
// Create / Delete / Get Properties / Set Properties / List, Path Create
// (and rename), Update (append, flush, setProperties, setAccessControl,
// setAccessControlRecursive), Read, Get Properties, Delete, List Paths.
// JSON bodies; errors as reply.js makes them.
'use strict';
const { StorageError } = require('../azure-files-lib/http.js');
const store = require('./store.js');
const c = require('./common.js');
const { send, sendJson } = require('./reply.js');

const MAX_LIST = 5000;
const { hdr, badQuery, badHeader } = c;
const missingQuery = (name) => new StorageError(400, 'MissingRequiredQueryParameter',
  'A query parameter that\'s mandatory for this request is not specified.', { QueryParameterName: name });
const done = { 'content-length': '0', 'x-ms-request-server-encrypted': 'true' };

function boolQuery(ctx, name, dflt) {
  const v = ctx.query.get(name);
  if (v === undefined || v === '') return dflt;
  if (!/^(true|false)$/i.test(v)) throw badQuery(name, v, 'true or false');
  return v.toLowerCase() === 'true';
}
function intQuery(ctx, name, min, max) {
  const v = ctx.query.get(name);
  if (v === undefined) return undefined;
  if (!/^\d{1,16}$/.test(v) || Number(v) < min || Number(v) > max) throw badQuery(name, v, `an integer from ${min} to ${max}`);
  return Number(v);
}
const maxResults = (ctx) => Math.min(intQuery(ctx, 'maxresults', 1, 2 ** 31) || MAX_LIST, MAX_LIST);
// a continuation token is the next entry's name, encoded (opaque to clients)
const token = (name) => Buffer.from(name, 'utf8').toString('base64');
function fromToken(ctx) {
  const v = ctx.query.get('continuation');
  if (!v) return null;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v)) throw badQuery('continuation', v, 'not a token this service gave');
  return Buffer.from(v, 'base64').toString('utf8');
}

// ===== filesystems =====
function createFilesystem(ctx) {
  const fs = store.createFs(ctx.fs, c.propertiesFrom(ctx) || {});
  send(ctx, 201, { ...c.changed(fs), 'x-ms-namespace-enabled': 'true', 'content-length': '0' });
}
function deleteFilesystem(ctx) {
  const fs = store.getFs(ctx.fs);
  c.conditions(ctx, { etag: fs.etag, modified: fs.modified });
  store.filesystems.delete(ctx.fs);
  send(ctx, 202, { 'content-length': '0' });
}
function filesystemProperties(ctx) {
  const fs = store.getFs(ctx.fs);
  send(ctx, 200, { ...c.changed(fs), 'x-ms-properties': c.propertiesHeader(fs.meta), 'x-ms-namespace-enabled': 'true' });
}
function setFilesystemProperties(ctx) {
  const fs = store.getFs(ctx.fs);
  fs.meta = c.propertiesFrom(ctx) || {};
  store.touch(fs);
  send(ctx, 200, { ...c.changed(fs), 'content-length': '0' });
}
function listFilesystems(ctx) {
  const prefix = ctx.query.get('prefix') || '', from = fromToken(ctx), max = maxResults(ctx);
  const all = [...store.filesystems.values()].filter((f) => f.name.startsWith(prefix) && (from === null || f.name >= from))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const page = all.slice(0, max), next = all[max];
  sendJson(ctx, 200, { filesystems: page.map((f) => ({ name: f.name, lastModified: c.httpDate(f.modified), etag: c.unquoted(f.etag) })) },
    next ? { 'x-ms-continuation': token(next.name) } : {});
}

// ===== List Paths =====
// Entries in the service's order: a directory, then what it holds, names in
// binary order; a page ends after maxResults entries with x-ms-continuation.
function listPaths(ctx) {
  const fs = store.getFs(ctx.fs);
  if (!ctx.query.has('recursive')) throw missingQuery('recursive');
  const recursive = boolQuery(ctx, 'recursive', false);
  const dirParts = store.splitPath(ctx.query.get('directory') || '');
  const dir = store.find(fs, dirParts);
  if (!dir || dir.kind !== 'dir') throw store.E.pathNotFound();
  const max = maxResults(ctx), from = fromToken(ctx);
  const base = dirParts.join('/');
  const page = [];
  let next = null, started = from === null;
  try {
    store.walk(dir, base, recursive, (p, node) => {
      if (!started) { if (walkCompare(p, from) < 0) return; started = true; }
      if (page.length === max) { next = p; throw page; }
      page.push(entry(p, node));
    });
  } catch (e) { if (e !== page) throw e; }
  sendJson(ctx, 200, { paths: page }, next ? { 'x-ms-continuation': token(next) } : {});
}
// the walk's order, segment by segment
function walkCompare(a, b) {
  const x = a.split('/'), y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = store.byteOrder(x[i], y[i]);
    if (d) return d;
  }
  return x.length - y.length;
}
function entry(name, node) {
  const e = { name };
  if (node.kind === 'dir') e.isDirectory = 'true';
  Object.assign(e, { contentLength: String(node.kind === 'file' ? node.size : 0), lastModified: c.httpDate(node.modified),
    etag: c.unquoted(node.etag), owner: node.owner, group: node.group, permissions: node.permissions,
    creationTime: store.fileTime(node.created), expiryTime: node.expiresOn ? store.fileTime(node.expiresOn) : '0' });
  return e;
}

// ===== Path Create =====
function expiryFrom(ctx) {
  const opt = hdr(ctx, 'x-ms-expiry-option');
  if (opt === undefined || /^NeverExpire$/i.test(opt)) return 0;
  const t = hdr(ctx, 'x-ms-expiry-time');
  if (/^Absolute$/i.test(opt) && t !== undefined && !Number.isNaN(Date.parse(t))) return Date.parse(t);
  if (/^RelativeToNow$/i.test(opt) && /^\d{1,12}$/.test(t || '')) return Date.now() + Number(t);
  throw badHeader('x-ms-expiry-option', opt);
}
function applyOwnership(ctx, node) {
  for (const [name, prop] of [['x-ms-owner', 'owner'], ['x-ms-group', 'group']]) {
    const v = hdr(ctx, name);
    if (v !== undefined) {
      if (v === '' || v.length > 256) throw badHeader(name, v);
      node[prop] = v;
    }
  }
  const acl = hdr(ctx, 'x-ms-acl');
  if (acl !== undefined) {
    if (!/^((default:)?(user|group|mask|other):[^:,]*:[r-][w-][x-])(,(default:)?(user|group|mask|other):[^:,]*:[r-][w-][x-])*$/.test(acl)) throw badHeader('x-ms-acl', acl);
    node.acl = acl;
  }
}
function createPath(ctx) {
  if (hdr(ctx, 'x-ms-rename-source') !== undefined) return renamePath(ctx);
  const resource = ctx.query.get('resource');
  if (resource === undefined) throw missingQuery('resource');
  if (resource !== 'file' && resource !== 'directory') throw badQuery('resource', resource, 'file or directory');
  const kind = resource === 'file' ? 'file' : 'dir';
  const fs = store.getFs(ctx.fs);
  store.checkDepth(ctx.parts);
  const existing = store.find(fs, ctx.parts);
  if (existing && (hdr(ctx, 'if-none-match') || '').trim() === '*') throw store.E.pathExists();
  c.conditions(ctx, existing);
  if (existing && existing.kind !== kind) throw store.E.conflict();
  const parent = store.makeParents(fs, ctx.parts);
  const name = ctx.parts[ctx.parts.length - 1];
  const node = kind === 'file' ? store.newFile(name) : (existing || store.newDir(name));
  const meta = c.propertiesFrom(ctx);
  if (meta !== undefined || !existing) node.meta = meta || {};
  if (kind === 'file') Object.assign(node.headers, c.contentFrom(ctx, 'dfs'));
  if (!existing || hdr(ctx, 'x-ms-permissions') !== undefined) node.permissions = c.permissionsFrom(ctx, kind);
  applyOwnership(ctx, node);
  if (kind === 'file') node.expiresOn = expiryFrom(ctx);
  store.touch(node);
  parent.children.set(name, node);
  store.touch(parent);
  send(ctx, 201, { ...c.changed(node), ...done, ...(kind === 'file' ? { 'content-length': '0' } : {}) });
}

// ===== rename: Path Create with x-ms-rename-source: /{filesystem}/{path}[?sas] =====
// Atomic: every check first, then one synchronous move. A file replaces a
// destination file; a directory replaces an empty directory; the subtree
// moves with its directory. mode=legacy and posix behave alike here.
function renamePath(ctx) {
  const mode = ctx.query.get('mode');
  if (mode !== undefined && !/^(legacy|posix)$/i.test(mode)) throw badQuery('mode', mode, 'legacy or posix');
  const src = ctx.resolveSource(hdr(ctx, 'x-ms-rename-source')); // {fs, parts}
  const srcFs = store.getFs(src.fs), dstFs = store.getFs(ctx.fs);
  const node = src.parts.length ? store.find(srcFs, src.parts) : null;
  if (!node) throw new StorageError(404, 'SourcePathNotFound', 'The source path for a rename operation does not exist.');
  sourceConditions(ctx, node);
  store.checkDepth(ctx.parts);
  const existing = store.find(dstFs, ctx.parts);
  if (existing === node) return send(ctx, 201, { ...c.changed(node), ...done });
  if (existing && (hdr(ctx, 'if-none-match') || '').trim() === '*') throw store.E.pathExists();
  c.conditions(ctx, existing);
  const dstParent = store.parentOf(dstFs, ctx.parts);
  if (!dstParent) throw new StorageError(404, 'RenameDestinationParentPathNotFound', 'The parent directory of the destination path does not exist.');
  if (node.kind === 'dir' && store.isInside(dstParent, node)) {
    throw new StorageError(400, 'InvalidRenameSourcePath', 'The source directory cannot be the same as the destination directory, nor can the destination be a subdirectory of the source directory.');
  }
  if (existing) {
    if (existing.kind !== node.kind) throw new StorageError(409, 'InvalidSourceOrDestinationResourceType', 'The source and destination resource type must be identical.');
    if (existing.kind === 'dir' && existing.children.size) throw store.E.pathExists();
  }
  const meta = c.propertiesFrom(ctx);
  const srcParent = store.parentOf(srcFs, src.parts);
  srcParent.children.delete(src.parts[src.parts.length - 1]);
  node.name = ctx.parts[ctx.parts.length - 1];
  dstParent.children.set(node.name, node);
  if (meta !== undefined) node.meta = meta;
  store.touch(node);
  store.touch(srcParent);
  store.touch(dstParent);
  send(ctx, 201, { ...c.changed(node), ...done });
}
function sourceConditions(ctx, node) {
  const fail = () => new StorageError(412, 'SourceConditionNotMet', 'The source condition specified using HTTP conditional header(s) is not met.');
  const m = hdr(ctx, 'x-ms-source-if-match'), n = hdr(ctx, 'x-ms-source-if-none-match');
  if (m !== undefined && m.trim() !== '*' && m.trim() !== node.etag) throw fail();
  if (n !== undefined && (n.trim() === '*' || n.trim() === node.etag)) throw fail();
  const since = Date.parse(hdr(ctx, 'x-ms-source-if-modified-since') || ''), unmod = Date.parse(hdr(ctx, 'x-ms-source-if-unmodified-since') || '');
  if (!Number.isNaN(since) && Math.floor(node.modified / 1000) <= Math.floor(since / 1000)) throw fail();
  if (!Number.isNaN(unmod) && Math.floor(node.modified / 1000) > Math.floor(unmod / 1000)) throw fail();
}

// ===== Path Update =====
function fileOf(ctx) {
  const node = c.findPath(ctx);
  if (node.kind !== 'file') throw new StorageError(409, 'ResourceTypeMismatch', 'The resource type specified in the request does not match the type of the resource.');
  return node;
}
function position(ctx) {
  if (!ctx.query.has('position')) throw missingQuery('position');
  return intQuery(ctx, 'position', 0, 2 ** 52);
}
async function appendData(ctx) {
  const pos = position(ctx);
  const cl = hdr(ctx, 'content-length');
  if (cl === '0') throw badHeader('Content-Length', cl, 'Append needs a request body.');
  const before = fileOf(ctx);
  const body = await c.readLimitedBody(ctx);
  const got = c.checkMd5(ctx, 'content-md5', body);
  const file = fileOf(ctx);
  if (file !== before) throw store.E.pathNotFound();
  store.append(file, pos, body);
  if (boolQuery(ctx, 'flush', false)) {
    store.flush(file, pos + body.length, false);
    file.headers.contentMD5 = undefined;
    store.touch(file);
    return send(ctx, 200, { ...c.changed(file), ...done, 'content-md5': got });
  }
  send(ctx, 202, { ...done, 'content-md5': got });
}
function flushData(ctx) {
  const pos = position(ctx);
  const cl = hdr(ctx, 'content-length');
  if (cl !== undefined && cl !== '0') throw new StorageError(400, 'InvalidHeaderValue', 'Flush takes no request body: Content-Length must be 0.', { HeaderName: 'Content-Length', HeaderValue: cl });
  const retain = boolQuery(ctx, 'retainuncommitteddata', false);
  boolQuery(ctx, 'close', false);
  const file = fileOf(ctx);
  c.conditions(ctx, file);
  const content = c.contentFrom(ctx, 'dfs');
  store.flush(file, pos, retain);
  file.headers.contentMD5 = undefined;
  Object.assign(file.headers, content);
  store.touch(file);
  send(ctx, 200, { ...c.changed(file), ...done });
}
function setProperties(ctx) {
  const node = c.findPath(ctx);
  c.conditions(ctx, node);
  const meta = c.propertiesFrom(ctx);
  if (meta !== undefined) node.meta = meta;
  if (node.kind === 'file') Object.assign(node.headers, c.contentFrom(ctx, 'dfs'));
  store.touch(node);
  send(ctx, 200, { ...c.changed(node), ...done });
}
function setAccessControl(ctx) {
  const node = c.findPath(ctx);
  c.conditions(ctx, node);
  if (hdr(ctx, 'x-ms-permissions') !== undefined) { node.permissions = c.permissionsFrom(ctx, node.kind); node.acl = null; }
  applyOwnership(ctx, node);
  store.touch(node);
  send(ctx, 200, { ...c.changed(node), 'content-length': '0' });
}
function setAccessControlRecursive(ctx) {
  const mode = ctx.query.get('mode');
  if (!/^(set|modify|remove)$/.test(mode || '')) throw badQuery('mode', mode || '', 'set, modify or remove');
  const root = c.findPath(ctx);
  const acl = hdr(ctx, 'x-ms-acl');
  const counts = { directoriesSuccessful: 0, filesSuccessful: 0, failureCount: 0, failedEntries: [] };
  const visit = (n) => {
    if (mode === 'set' && acl !== undefined) n.acl = acl;
    counts[n.kind === 'dir' ? 'directoriesSuccessful' : 'filesSuccessful']++;
    if (n.kind === 'dir') for (const ch of n.children.values()) visit(ch);
  };
  visit(root);
  sendJson(ctx, 200, counts);
}
const ACTIONS = { append: appendData, flush: flushData, setproperties: setProperties, setaccesscontrol: setAccessControl,
  setaccesscontrolrecursive: setAccessControlRecursive };
function updatePath(ctx) {
  const action = ctx.query.get('action');
  if (action === undefined) throw missingQuery('action');
  const fn = ACTIONS[action.toLowerCase()];
  if (!fn) throw badQuery('action', action, 'append, flush, setProperties, setAccessControl or setAccessControlRecursive');
  return fn(ctx);
}

// ===== Get Properties (HEAD), Read, Delete =====
function pathProperties(ctx) {
  const action = ctx.query.get('action');
  if (action !== undefined && !/^(getStatus|getAccessControl)$/i.test(action)) throw badQuery('action', action, 'getStatus or getAccessControl');
  return c.readPath(ctx);
}
function deletePath(ctx) {
  const recursive = boolQuery(ctx, 'recursive', false);
  c.removePath(ctx, recursive);
  send(ctx, 200, { 'content-length': '0' });
}

module.exports = {
  createFilesystem, deleteFilesystem, filesystemProperties, setFilesystemProperties, listFilesystems, listPaths,
  createPath, updatePath, pathProperties, readPath: c.readPath, deletePath, ACTIONS,
};
