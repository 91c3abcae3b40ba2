// The double's state: shares, directories and files in memory, with the
// naming rules of "Naming and referencing shares, directories, files, and
// metadata". Names are case-insensitive and case-preserving: a child is
// found by its folded name (each character upper-cased when that gives one
// character, as NTFS's upcase table does), and keeps the case it was made
// with. File content is sparse: a sorted list of written extents; what was
// never written (or was cleared) reads as zeros and is not in List Ranges.
'use strict';
const { StorageError } = require('./http.js');

const MAX_FILE_SIZE = 4 * 1024 ** 4; // 4 TiB
const MAX_COMPONENT = 255;
const MAX_PATH = 2048;
const MAX_DEPTH = 250;
const RESERVED = new Set(['CON', 'PRN', 'AUX', 'NUL', 'CLOCK$',
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((i) => [`COM${i}`, `LPT${i}`])]);

function fold(name) {
  let out = '';
  for (const ch of name) {
    const up = ch.toUpperCase();
    out += [...up].length === 1 ? up : ch;
  }
  return out;
}
// The listing order: by folded name, code unit by code unit (documented
// choice: Azure returns entries in its directory index's order, which is
// case-insensitive).
function compareNames(a, b) {
  const fa = fold(a), fb = fold(b);
  if (fa !== fb) return fa < fb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkShareName(name) {
  if (!/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(name)) {
    throw new StorageError(400, 'InvalidResourceName', 'The specifed resource name contains invalid characters.');
  }
}
// A directory or file name component, as the REST reference states it:
// no " \ / : | < > * ?, no control characters, no private-use or
// non-characters, no reserved device names, at most 255 characters.
function checkComponent(name) {
  const bad = name === '' || name.length > MAX_COMPONENT || /["\\/:|<>*?\x00-\x1f\x7f]/.test(name) ||
    /[\ue000-\uf8ff\ufffe\uffff]/.test(name) || /\p{Cs}/u.test(name) ||
    RESERVED.has(name.toUpperCase()) || name === '.' || name === '..';
  if (bad) throw new StorageError(400, 'InvalidResourceName', 'The specifed resource name contains invalid characters.');
}
// splitPath("a/b/c", allowTrailingDot): the checked components. Without
// x-ms-allow-trailing-dot the service trims trailing dots from each name.
function splitPath(path, allowTrailingDot) {
  if (path.length > MAX_PATH) throw new StorageError(400, 'InvalidResourceName', 'The specifed resource name length is not within the permissible limits.');
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length > MAX_DEPTH + 1) throw new StorageError(400, 'InvalidResourceName', 'The specified resource path is too deep.');
  return parts.map((p) => {
    const name = allowTrailingDot ? p : p.replace(/\.+$/, '');
    checkComponent(name);
    return name;
  });
}

let seq = 0n;
let fileIds = 13835058055282163712n;
// Etags look like Azure's (0x8D...) and change with every write.
function newEtag() {
  const ticks = BigInt(Date.now()) * 10000n + 621355968000000000n; // .NET ticks, as Azure
  seq += 1n;
  return `"0x${(ticks + seq).toString(16).toUpperCase()}"`;
}
function isoTime(ms) { return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z'); }

function baseNode(name, kind) {
  const now = Date.now();
  fileIds += 1n;
  return {
    kind, name, meta: {}, etag: newEtag(), modified: now, fileId: fileIds.toString(),
    smb: { attributes: kind === 'dir' ? 'Directory' : 'Archive', created: now, written: now, changed: now, accessed: now,
           permissionKey: '4066528134148476695*1' },
  };
}
function newDir(name) { return { ...baseNode(name, 'dir'), children: new Map() }; }
function newFile(name, size) {
  return { ...baseNode(name, 'file'), size, extents: [], headers: {} };
}
function touch(node) {
  node.etag = newEtag();
  node.modified = Date.now();
  node.smb.changed = node.modified;
}

// --- sparse content: extents are {start, buf}, sorted and non-overlapping ---
function firstOverlap(extents, pos) { // index of the first extent ending after pos
  let lo = 0, hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (extents[mid].start + extents[mid].buf.length <= pos) lo = mid + 1; else hi = mid;
  }
  return lo;
}
// cut(file, start, end): removes [start, end) from the extents, keeping
// copies (not views) of what survives so a large buffer is not held for a sliver.
function cut(file, start, end) {
  const ex = file.extents;
  let i = firstOverlap(ex, start);
  const keep = [];
  let j = i;
  for (; j < ex.length && ex[j].start < end; j++) {
    const e = ex[j], eEnd = e.start + e.buf.length;
    if (e.start < start) keep.push({ start: e.start, buf: Buffer.from(e.buf.subarray(0, start - e.start)) });
    if (eEnd > end) keep.push({ start: end, buf: Buffer.from(e.buf.subarray(end - e.start)) });
  }
  ex.splice(i, j - i, ...keep);
  return i + (keep.length && keep[0].start < start ? 1 : 0);
}
function writeRange(file, start, buf) {
  const at = cut(file, start, start + buf.length);
  file.extents.splice(at, 0, { start, buf });
}
function clearRange(file, start, end) { cut(file, start, end); }
function resize(file, size) {
  if (size < file.size) cut(file, size, Infinity);
  file.size = size;
}
// readRange(file, start, end): the bytes [start, end) as one buffer (zeros where unwritten).
function readRange(file, start, end) {
  const out = Buffer.alloc(end - start);
  const ex = file.extents;
  for (let i = firstOverlap(ex, start); i < ex.length && ex[i].start < end; i++) {
    const e = ex[i];
    const from = Math.max(start, e.start), to = Math.min(end, e.start + e.buf.length);
    e.buf.copy(out, from - start, from - e.start, to - e.start);
  }
  return out;
}
// The written ranges, adjacent extents merged, as inclusive [start, end] pairs.
function rangeList(file, start = 0, end = file.size) {
  const out = [];
  for (const e of file.extents) {
    const s = Math.max(start, e.start), t = Math.min(end, e.start + e.buf.length);
    if (s >= t) continue;
    const last = out[out.length - 1];
    if (last && last[1] + 1 === s) last[1] = t - 1; else out.push([s, t - 1]);
  }
  return out;
}

// --- the tree ---
const shares = new Map();

function getShare(name) {
  const s = shares.get(name);
  if (!s) throw new StorageError(404, 'ShareNotFound', 'The specified share does not exist.');
  return s;
}
function createShare(name, meta, quota) {
  checkShareName(name);
  if (shares.has(name)) throw new StorageError(409, 'ShareAlreadyExists', 'The specified share already exists.');
  const root = newDir('');
  const share = { name, meta, quota, etag: newEtag(), modified: Date.now(), root };
  shares.set(name, share);
  return share;
}
// lookup(share, parts): {parent, node, key}; node is undefined when the last
// part does not exist. A missing or non-directory ancestor is ParentNotFound.
function lookup(share, parts) {
  let dir = share.root;
  for (let i = 0; i < parts.length - 1; i++) {
    const next = dir.children.get(fold(parts[i]));
    if (!next || next.kind !== 'dir') throw new StorageError(404, 'ParentNotFound', 'The specified parent path does not exist.');
    dir = next;
  }
  if (parts.length === 0) return { parent: null, node: share.root, key: '' };
  const key = fold(parts[parts.length - 1]);
  return { parent: dir, node: dir.children.get(key), key };
}
function need(found, kind) {
  if (!found.node || found.node.kind !== kind) throw new StorageError(404, 'ResourceNotFound', 'The specified resource does not exist.');
  return found.node;
}
function pathOf(parts) { return parts.join('/'); }

module.exports = {
  MAX_FILE_SIZE, shares, fold, compareNames, checkShareName, splitPath, newEtag, isoTime,
  newDir, newFile, touch, writeRange, clearRange, resize, readRange, rangeList,
  getShare, createShare, lookup, need, pathOf,
};
