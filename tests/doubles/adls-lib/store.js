// The ADLS double's state: filesystems (containers) holding a real tree of
// directories and files, as a storage account with a hierarchical namespace
// does. Names are case-sensitive. A file's visible content is what was
// flushed: sparse extents, as in the Azure Files double's store; appended
// data waits, by position, in `pending` until a flush commits it.
'use strict';
const files = require('../azure-files-lib/store.js');
const { StorageError } = require('../azure-files-lib/http.js');

const MAX_NAME = 1024;    // a blob name (the path in its filesystem), in characters
const MAX_SEGMENT = 255;  // one directory or file name
const MAX_DEPTH = 59;     // deeper paths get 409 PathIsTooDeep (the service's observed limit)
const { newEtag, isoTime, writeRange, readRange } = files;

const err = (status, code, message) => new StorageError(status, code, message);
const E = {
  fsNotFound: () => err(404, 'FilesystemNotFound', 'The specified filesystem does not exist.'),
  fsExists: () => err(409, 'FilesystemAlreadyExists', 'The specified filesystem already exists.'),
  pathNotFound: () => err(404, 'PathNotFound', 'The specified path does not exist.'),
  pathExists: () => err(409, 'PathAlreadyExists', 'The specified path already exists.'),
  conflict: () => err(409, 'PathConflict', 'The specified path, or an element of the path, exists and its resource type is invalid for this operation.'),
  badName: () => err(400, 'InvalidResourceName', 'The specifed resource name contains invalid characters.'),
  badLength: () => err(400, 'InvalidResourceName', 'The specifed resource name length is not within the permissible limits.'),
  tooDeep: () => err(409, 'PathIsTooDeep', 'This operation is not permitted as the path is too deep.'),
  flushPosition: () => err(400, 'InvalidFlushPosition',
    'The uploaded data is not contiguous or the position query parameter value is not equal to the length of the file after appending the uploaded data.'),
};

// Container (filesystem) names: 3-63 of lower-case letters, digits and
// single hyphens, starting and ending with a letter or digit.
function checkFsName(name) {
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(name)) throw E.badName();
}
// splitPath("a/b/c"): the segments; empty segments (a//b, a trailing /) are
// dropped as the service does; "." and ".." and control characters refused.
function splitPath(path) {
  if (path.length > MAX_NAME) throw E.badLength();
  const parts = path.split('/').filter((p) => p !== '');
  for (const p of parts) {
    if (p === '.' || p === '..' || /[\x00-\x1f\x7f\\]/.test(p) || /\p{Cs}/u.test(p)) throw E.badName();
    if (p.length > MAX_SEGMENT) throw E.badLength();
  }
  return parts;
}
function checkDepth(parts) { if (parts.length > MAX_DEPTH) throw E.tooDeep(); }

// Windows file time (100 ns since 1601), as List Paths gives creationTime
const fileTime = (ms) => (BigInt(Math.floor(ms)) * 10000n + 116444736000000000n).toString();

function baseNode(kind, name) {
  const now = Date.now();
  return { kind, name, meta: {}, etag: newEtag(), modified: now, created: now, owner: '$superuser', group: '$superuser',
           permissions: kind === 'dir' ? 'rwxr-x---' : 'rw-r-----', acl: null, expiresOn: 0 };
}
function newDir(name) { return { ...baseNode('dir', name), children: new Map() }; }
function newFile(name) {
  return { ...baseNode('file', name), size: 0, extents: [], headers: { contentType: 'application/octet-stream' }, pending: new Map() };
}
function touch(node) { node.etag = newEtag(); node.modified = Date.now(); }

// --- filesystems ---
const filesystems = new Map();
function getFs(name) {
  const fs = filesystems.get(name);
  if (!fs) throw E.fsNotFound();
  return fs;
}
function createFs(name, meta) {
  checkFsName(name);
  if (filesystems.has(name)) throw E.fsExists();
  const fs = { name, meta, etag: newEtag(), modified: Date.now(), root: newDir('') };
  filesystems.set(name, fs);
  return fs;
}

// --- the tree ---
// find(fs, parts): the node, or null when it (or an ancestor) is missing.
function find(fs, parts) {
  let node = fs.root;
  for (const p of parts) {
    if (!node || node.kind !== 'dir') return null;
    node = node.children.get(p);
  }
  return node || null;
}
// parentOf(fs, parts): the directory holding parts' last segment, or null.
function parentOf(fs, parts) {
  const d = find(fs, parts.slice(0, -1));
  return d && d.kind === 'dir' ? d : null;
}
// makeParents(fs, parts): the parent directory of parts, made (with its own
// parents) where missing, as Path Create does; a file in the way: PathConflict.
function makeParents(fs, parts) {
  let dir = fs.root;
  for (const p of parts.slice(0, -1)) {
    let next = dir.children.get(p);
    if (!next) {
      next = newDir(p);
      dir.children.set(p, next);
      touch(dir);
    }
    if (next.kind !== 'dir') throw E.conflict();
    dir = next;
  }
  return dir;
}
// Children in the listing order: by name, as UTF-8 bytes (binary order).
const byteOrder = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
function sortedChildren(dir) { return [...dir.children.values()].sort((a, b) => byteOrder(a.name, b.name)); }
// walk(dir, prefix, recursive, visit): pre-order, a directory before what it holds.
function walk(dir, prefix, recursive, visit) {
  for (const c of sortedChildren(dir)) {
    const p = prefix ? `${prefix}/${c.name}` : c.name;
    visit(p, c);
    if (recursive && c.kind === 'dir') walk(c, p, true, visit);
  }
}
function isInside(node, maybeAncestor) {
  if (node === maybeAncestor) return true;
  if (maybeAncestor.kind !== 'dir') return false;
  for (const c of maybeAncestor.children.values()) if (isInside(node, c)) return true;
  return false;
}

// --- file content: append (pending by position) and flush (commit) ---
function append(file, position, buf) {
  if (position < file.size) throw E.flushPosition();
  file.pending.set(position, buf);
}
// flush(file, position, retain): the pending pieces from the current end to
// exactly position, contiguous, become the file's content.
function flush(file, position, retain) {
  if (position < file.size) throw E.flushPosition();
  const used = [];
  for (let at = file.size; at < position;) {
    const buf = file.pending.get(at);
    if (!buf || at + buf.length > position) throw E.flushPosition();
    used.push(at);
    at += buf.length;
  }
  for (const at of used) {
    writeRange(file, at, file.pending.get(at));
    file.pending.delete(at);
  }
  file.size = position;
  if (!retain) file.pending.clear();
}
// replaceContent(file, buf): a whole new content (Put Blob).
function replaceContent(file, buf) {
  file.extents = buf.length ? [{ start: 0, buf }] : [];
  file.size = buf.length;
  file.pending.clear();
}

module.exports = {
  E, filesystems, getFs, createFs, checkFsName, splitPath, checkDepth, newDir, newFile, touch, find, parentOf,
  makeParents, sortedChildren, walk, isInside, byteOrder, append, flush, replaceContent, readRange,
  newEtag, isoTime, fileTime,
};
