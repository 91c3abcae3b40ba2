// `files_sdk.js conformance`: every operation of the Azure Files double,
// driven only through the official SDK (@azure/storage-file-share) with a
// Shared Key and with SAS tokens the SDK makes, each result checked. Returns
// {passed, failed: [{check, error}]}; files_sdk.js exits 1 when any failed.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const {
  ShareServiceClient, StorageSharedKeyCredential, generateAccountSASQueryParameters, generateFileSASQueryParameters,
  AccountSASPermissions, ShareSASPermissions, FileSASPermissions, SASProtocol,
} = require('@azure/storage-file-share');

const MiB = 1024 * 1024;
const md5 = (buf) => crypto.createHash('md5').update(buf).digest('base64');
const b64 = (u8) => (u8 ? Buffer.from(u8).toString('base64') : null);
const noRetry = { retryOptions: { maxTries: 1 } };

async function readAll(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}
function assert(cond, what) { if (!cond) throw new Error(what); }
function eq(got, want, what) {
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
// fails(promise, status, code): the call must fail with that RestError
async function fails(promise, status, code) {
  try {
    await promise;
  } catch (e) {
    const got = e.code || (e.details && e.details.errorCode);
    if (e.statusCode === status && (code === undefined || got === code)) return e;
    throw new Error(`expected ${status} ${code || ''}, got ${e.statusCode} ${got} (${e.message.split('\n')[0]})`);
  }
  throw new Error(`expected ${status} ${code || ''}, but it succeeded`);
}

module.exports = async function conformance({ service, cred, url, account }) {
  const results = { passed: 0, failed: [] };
  const check = async (name, fn) => {
    try { await fn(); results.passed++; } catch (e) { results.failed.push({ check: name, error: e.message }); }
  };
  const tag = crypto.randomBytes(3).toString('hex');
  const S = `conf-${tag}`;
  const share = service.getShareClient(S);
  const root = share.rootDirectoryClient;
  const sas = (perms, minutes, extra = {}) => generateFileSASQueryParameters({ shareName: S, permissions: ShareSASPermissions.parse(perms),
    startsOn: new Date(Date.now() - 3600e3), expiresOn: new Date(Date.now() + minutes * 60e3), protocol: SASProtocol.HttpsAndHttp, ...extra }, cred).toString();
  const accountSas = (perms, minutes, services = 'f') => generateAccountSASQueryParameters({ permissions: AccountSASPermissions.parse(perms),
    resourceTypes: 'sco', services, startsOn: new Date(Date.now() - 3600e3), expiresOn: new Date(Date.now() + minutes * 60e3) }, cred).toString();
  const viaSas = (token) => new ShareServiceClient(`${url}?${token}`, undefined, noRetry);

  // --- shares ---
  await check('create a share (201), again: 409 ShareAlreadyExists', async () => {
    eq((await share.create({ metadata: { owner: 'ferry' } }))._response.status, 201, 'status');
    await fails(share.create(), 409, 'ShareAlreadyExists');
  });
  await check('share properties and metadata', async () => {
    await share.setMetadata({ Colour: 'blue', k_1: 'v' });
    const p = await share.getProperties();
    // Node's HTTP client lower-cases response header names, so metadata names arrive in lower case
    eq(p.metadata, { colour: 'blue', k_1: 'v' }, 'metadata');
    assert(/^"0x[0-9A-F]+"$/.test(p.etag), `etag ${p.etag}`);
    assert(p.quota > 0, 'quota');
  });
  await check('share names follow the DNS rules: 400 InvalidResourceName', async () => {
    await fails(service.getShareClient('Bad_Share').create(), 400, 'InvalidResourceName');
    await fails(service.getShareClient('ab').create(), 400, 'InvalidResourceName');
  });
  await check('list shares with prefix and pages of 1', async () => {
    for (const n of ['b', 'c']) await service.getShareClient(`${S}-${n}`).create();
    const names = [];
    for await (const page of service.listShares({ prefix: S, includeMetadata: true }).byPage({ maxPageSize: 1 })) {
      assert(page.shareItems.length <= 1, 'page size');
      names.push(...page.shareItems.map((s) => s.name));
    }
    eq(names, [S, `${S}-b`, `${S}-c`], 'names');
    for (const n of ['b', 'c']) await service.getShareClient(`${S}-${n}`).delete();
  });
  await check('service properties answer', async () => {
    const p = await service.getProperties();
    assert(p.hourMetrics && p.minuteMetrics, 'metrics');
    await service.setProperties({ hourMetrics: { enabled: false, version: '1.0', retentionPolicy: { enabled: false } } });
  });

  // --- directories ---
  await check('nested directories; 409 ResourceAlreadyExists; 404 ParentNotFound', async () => {
    for (const d of ['a', 'a/b', 'a/b/c']) eq((await share.getDirectoryClient(d).create())._response.status, 201, d);
    await fails(share.getDirectoryClient('a/b').create(), 409, 'ResourceAlreadyExists');
    await fails(share.getDirectoryClient('nope/x').create(), 404, 'ParentNotFound');
  });
  await check('directory properties, metadata; 404 ResourceNotFound', async () => {
    const d = share.getDirectoryClient('a/b');
    await d.setMetadata({ m: '1' });
    const p = await d.getProperties();
    eq(p.metadata, { m: '1' }, 'metadata');
    assert(p.fileId && p.fileCreatedOn instanceof Date, 'SMB properties');
    await fails(share.getDirectoryClient('a/zz').getProperties(), 404, 'ResourceNotFound');
  });

  // --- files: create, ranges, download ---
  const small = Buffer.from('hello, azure files\n');
  const f1 = share.getDirectoryClient('a/b').getFileClient('one.txt');
  await check('create a file and upload a range; download whole', async () => {
    await f1.create(small.length, { fileHttpHeaders: { fileContentType: 'text/plain' }, metadata: { x: 'y' } });
    const up = await f1.uploadRange(small, 0, small.length, { contentMD5: Buffer.from(md5(small), 'base64') });
    eq(b64(up.contentMD5), md5(small), 'range MD5 echoed');
    const r = await f1.download();
    eq((await readAll(r.readableStreamBody)).toString(), small.toString(), 'content');
    eq(r.contentType, 'text/plain', 'content type');
    eq(r.metadata, { x: 'y' }, 'metadata');
  });
  await check('ranged download: 206, Content-Range, range MD5, whole MD5 in x-ms-content-md5', async () => {
    await f1.setHttpHeaders({ fileContentMD5: Buffer.from(md5(small), 'base64'), fileContentType: 'text/plain' });
    const r = await f1.download(7, 5, { rangeGetContentMD5: true });
    eq(r._response.status, 206, 'status');
    const got = await readAll(r.readableStreamBody);
    eq(got.toString(), 'azure', 'bytes');
    eq(b64(r.contentMD5), md5(got), 'range MD5');
    eq(b64(r.fileContentMD5), md5(small), 'whole-file MD5');
    eq(r.contentRange, `bytes 7-11/${small.length}`, 'Content-Range');
  });
  await check('download past the end: 416 InvalidRange', async () => {
    await fails(f1.download(small.length + 10, 5), 416, 'InvalidRange');
  });
  await check('getProperties: size, quoted ETag, Last-Modified, MD5', async () => {
    const p = await f1.getProperties();
    eq(p.contentLength, small.length, 'size');
    assert(/^"0x[0-9A-F]+"$/.test(p.etag), `etag ${p.etag}`);
    assert(p.lastModified instanceof Date, 'last modified');
    eq(b64(p.contentMD5), md5(small), 'MD5');
  });
  await check('Set File Properties clears the content headers it is not given', async () => {
    const before = (await f1.getProperties()).etag;
    await f1.setHttpHeaders({});
    const p = await f1.getProperties();
    eq(b64(p.contentMD5), null, 'MD5 cleared');
    eq(p.contentType, 'application/octet-stream', 'type back to default');
    assert(p.etag !== before, 'ETag changes');
  });
  await check('a wrong Content-MD5: 400 Md5Mismatch', async () => {
    await fails(f1.uploadRange(small, 0, small.length, { contentMD5: Buffer.alloc(16, 7) }), 400, 'Md5Mismatch');
  });
  await check('a range past the end of the file: 416 InvalidRange', async () => {
    await fails(f1.uploadRange(Buffer.from('abcde'), small.length - 2, 5), 416, 'InvalidRange');
  });
  await check('a range of 4 MiB is taken, 4 MiB + 1 refused: 413 RequestBodyTooLarge', async () => {
    const big = share.rootDirectoryClient.getFileClient('big-range.bin');
    await big.create(8 * MiB + 1);
    await big.uploadRange(Buffer.alloc(4 * MiB, 1), 0, 4 * MiB);
    // the SDK refuses to send it, so it goes through the SDK's own request layer
    const body = Buffer.alloc(4 * MiB + 1, 2);
    await fails(big.context.uploadRange(`bytes=0-${4 * MiB}`, 'update', body.length, { body }), 413, 'RequestBodyTooLarge');
    await fails(big.download(0, 4 * MiB + 1, { rangeGetContentMD5: true }), 400, 'InvalidHeaderValue');
  });
  await check('resize, clear a range, list ranges (merged)', async () => {
    const f = share.rootDirectoryClient.getFileClient('ranges.bin');
    await f.create(10000);
    await f.uploadRange(Buffer.alloc(1000, 1), 0, 1000);
    await f.uploadRange(Buffer.alloc(1000, 2), 1000, 1000);
    await f.uploadRange(Buffer.alloc(500, 3), 5000, 500);
    eq((await f.getRangeList()).rangeList, [{ start: 0, end: 1999 }, { start: 5000, end: 5499 }], 'ranges');
    await f.clearRange(500, 1000);
    eq((await f.getRangeList()).rangeList, [{ start: 0, end: 499 }, { start: 1500, end: 1999 }, { start: 5000, end: 5499 }], 'after clear');
    const got = await readAll((await f.download(0, 2000)).readableStreamBody);
    assert(got[499] === 1 && got[500] === 0 && got[1499] === 0 && got[1500] === 2, 'cleared bytes read as zeros');
    await f.resize(1600);
    eq((await f.getProperties()).contentLength, 1600, 'shrunk');
    await f.resize(3000);
    const tail = await readAll((await f.download(1500, 1500)).readableStreamBody);
    assert(tail[0] === 2 && tail[99] === 2 && tail[100] === 0 && tail[1499] === 0, 'grown with zeros');
  });
  await check('uploadData in parallel 1 MiB ranges; downloadToBuffer in parallel', async () => {
    const data = crypto.randomBytes(9 * MiB + 12345);
    const f = share.getDirectoryClient('a').getFileClient('parallel.bin');
    await f.uploadData(data, { rangeSize: MiB, concurrency: 6 });
    const back = await f.downloadToBuffer(0, undefined, { rangeSize: 2 * MiB, concurrency: 4 });
    eq(md5(back), md5(data), 'content');
  });
  await check('uploadFile in 4 MiB ranges, 4 at a time, with Content-MD5; downloadToFile', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'files-sdk-'));
    try {
      const data = crypto.randomBytes(17 * MiB + 3);
      fs.writeFileSync(path.join(tmp, 'in'), data);
      const f = share.getDirectoryClient('a/b/c').getFileClient('uploaded.bin');
      await f.uploadFile(path.join(tmp, 'in'), { rangeSize: 4 * MiB, concurrency: 4, fileHttpHeaders: { fileContentMD5: Buffer.from(md5(data), 'base64') } });
      await f.downloadToFile(path.join(tmp, 'out'));
      eq(md5(fs.readFileSync(path.join(tmp, 'out'))), md5(data), 'content');
      eq(b64((await f.getProperties()).contentMD5), md5(data), 'stored MD5');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
  await check('a 1 GiB file is sparse: its last range written and read back', async () => {
    const f = share.rootDirectoryClient.getFileClient('gig.bin');
    await f.create(1024 * MiB);
    const tail = crypto.randomBytes(MiB);
    await f.uploadRange(tail, 1023 * MiB, MiB);
    eq(md5(await readAll((await f.download(1023 * MiB, MiB)).readableStreamBody)), md5(tail), 'tail');
    eq((await f.getRangeList()).rangeList, [{ start: 1023 * MiB, end: 1024 * MiB - 1 }], 'one range');
    await f.delete();
  });

  // --- listing ---
  const names = ['Zeta.txt', 'alpha.txt', 'Beta.txt', 'a&b\'d;e=f.txt', 'ünï cødé.txt', 'sub'];
  await check('list with prefix, pages of 2 (continuation), escaped names, case-insensitive order', async () => {
    const d = share.getDirectoryClient('list');
    await d.create();
    for (const n of names) {
      if (n === 'sub') await d.getDirectoryClient(n).create(); else await d.getFileClient(n).create(n.length);
    }
    const seen = [];
    for await (const page of d.listFilesAndDirectories().byPage({ maxPageSize: 2 })) {
      assert(page.segment.fileItems.length + page.segment.directoryItems.length <= 2, 'page size');
      seen.push(...page.segment.fileItems.map((x) => x.name), ...page.segment.directoryItems.map((x) => `${x.name}/`));
    }
    eq(seen.slice().sort((a, b) => a.toUpperCase().localeCompare(b.toUpperCase())).length, names.length, 'count');
    eq(new Set(seen.map((s) => s.replace(/\/$/, ''))), new Set(names), 'names');
    const pre = [];
    for await (const e of d.listFilesAndDirectories({ prefix: 'B' })) pre.push(e.name);
    eq(pre, ['Beta.txt'], 'prefix B (case-insensitive)');
    const a = [];
    for await (const e of d.listFilesAndDirectories({ prefix: 'a' })) a.push(e.name);
    eq(a, ['a&b\'d;e=f.txt', 'alpha.txt'], 'prefix a, folded order');
  });
  await check('list with timestamps, ETag, attributes and extended info', async () => {
    const items = [];
    for await (const e of share.getDirectoryClient('list').listFilesAndDirectories({ includeTimestamps: true, includeEtag: true,
      includeAttributes: true, includePermissionKey: true, includeExtendedInfo: true })) items.push(e);
    const f = items.find((e) => e.name === 'alpha.txt');
    eq(f.properties.contentLength, 'alpha.txt'.length, 'size');
    assert(f.fileId && f.properties.etag && f.properties.creationTime instanceof Date && f.properties.lastModified instanceof Date, 'properties');
    eq(f.properties.etag, (await share.getDirectoryClient('list').getFileClient('alpha.txt').getProperties()).etag, 'same ETag as HEAD');
    assert(items.find((e) => e.name === 'sub').kind === 'directory', 'directory entry');
    for await (const page of share.getDirectoryClient('list').listFilesAndDirectories().byPage({ maxPageSize: 6000 })) {
      eq(page.maxResults, 5000, 'maxresults clamped to 5000');
    }
  });

  // --- names ---
  await check('names are case-insensitive and case-preserving', async () => {
    const d = share.getDirectoryClient('case');
    await d.create();
    await d.getFileClient('Case.TXT').create(3);
    eq((await share.getDirectoryClient('CASE').getFileClient('case.txt').getProperties()).contentLength, 3, 'found by another case');
    await d.getFileClient('CASE.txt').create(7);
    const list = [];
    for await (const e of d.listFilesAndDirectories()) list.push([e.name, e.properties.contentLength]);
    eq(list, [['Case.TXT', 7]], 'replaced in place, first name kept');
  });
  await check('invalid names: 400 InvalidResourceName', async () => {
    for (const n of ['bad:name', 'bad|name', 'a*b', 'q?', 'CON', 'lt<gt>', 'x'.repeat(256)]) {
      await fails(root.getFileClient(n).create(1), 400, 'InvalidResourceName');
    }
  });
  await check('a directory where a file is, a file where a directory is: 409 ResourceTypeMismatch', async () => {
    await fails(share.getDirectoryClient('case/case.txt').create(), 409, 'ResourceTypeMismatch');
    await fails(share.rootDirectoryClient.getFileClient('A').create(1), 409, 'ResourceTypeMismatch');
    await fails(share.getDirectoryClient('case/case.txt/below').create(), 404, 'ParentNotFound');
  });

  // --- rename ---
  await check('rename a file: 409 without replace, then moved whole with its MD5', async () => {
    const src = share.getDirectoryClient('a').getFileClient('to-move.txt');
    const data = Buffer.from('moving bytes');
    await src.uploadData(data, { fileHttpHeaders: { fileContentMD5: Buffer.from(md5(data), 'base64') } });
    await root.getFileClient('taken.txt').create(1);
    await fails(src.rename('taken.txt'), 409, 'ResourceAlreadyExists');
    const { destinationFileClient: moved } = await src.rename('a/b/moved.txt');
    await fails(src.getProperties(), 404, 'ResourceNotFound');
    eq((await readAll((await moved.download()).readableStreamBody)).toString(), data.toString(), 'content');
    eq(b64((await moved.getProperties()).contentMD5), md5(data), 'MD5 kept');
    // a fresh client: the SDK misreads the share of the path-style URL a rename returns
    await share.getDirectoryClient('a/b').getFileClient('moved.txt').rename('taken.txt', { replaceIfExists: true });
    eq((await root.getFileClient('taken.txt').getProperties()).contentLength, data.length, 'replaced');
    await fails(share.getDirectoryClient('a').getFileClient('nothing').rename('x.txt'), 404, 'ResourceNotFound');
  });
  await check('rename a directory with its contents', async () => {
    const d = share.getDirectoryClient('tree');
    await d.create();
    await d.getFileClient('f.txt').create(4);
    await d.rename('tree2');
    eq((await share.getDirectoryClient('tree2').getFileClient('f.txt').getProperties()).contentLength, 4, 'moved');
    await fails(d.getProperties(), 404, 'ResourceNotFound');
  });

  // --- delete ---
  await check('delete: 409 DirectoryNotEmpty, 202, then 404', async () => {
    await fails(share.getDirectoryClient('tree2').delete(), 409, 'DirectoryNotEmpty');
    eq((await share.getDirectoryClient('tree2').getFileClient('f.txt').delete())._response.status, 202, 'file');
    eq((await share.getDirectoryClient('tree2').delete())._response.status, 202, 'directory');
    await fails(share.getDirectoryClient('tree2').getFileClient('f.txt').delete(), 404, 'ParentNotFound');
    await fails(root.getFileClient('never.txt').delete(), 404, 'ResourceNotFound');
  });

  // --- authorization ---
  await check('a wrong key: 403 AuthenticationFailed', async () => {
    const wrong = new ShareServiceClient(url, new StorageSharedKeyCredential(account, Buffer.from('not the key').toString('base64')), noRetry);
    const e = await fails(wrong.getShareClient(S).getProperties(), 403, 'AuthenticationFailed');
    assert(!/Eby8vdM02x/.test(JSON.stringify(e.details || {})), 'no key in the error');
  });
  await check('metadata names that sort differently by culture and ordinal still sign', async () => {
    await f1.setMetadata({ a_b: '1', a1: '2', ab: '3', _z: '4', Z9: '5' });
    eq(Object.keys((await f1.getProperties()).metadata).sort(), ['_z', 'a1', 'a_b', 'ab', 'z9'], 'metadata');
  });
  await check('account SAS (ss=f, srt=sco): list shares, write, read', async () => {
    const c = viaSas(accountSas('rwdlc', 60));
    const ns = [];
    for await (const s of c.listShares({ prefix: S })) ns.push(s.name);
    assert(ns.includes(S), 'listed');
    const f = c.getShareClient(S).rootDirectoryClient.getFileClient('by-account-sas.txt');
    await f.uploadData(Buffer.from('sas'));
    eq((await readAll((await f.download()).readableStreamBody)).toString(), 'sas', 'read back');
  });
  await check('share SAS: write, list, rename, read', async () => {
    const c = viaSas(sas('rcwdl', 60)).getShareClient(S);
    const f = c.rootDirectoryClient.getFileClient('by-share-sas.txt');
    await f.uploadData(Buffer.from('share sas'));
    const ns = [];
    for await (const e of c.rootDirectoryClient.listFilesAndDirectories({ prefix: 'by-' })) ns.push(e.name);
    assert(ns.includes('by-share-sas.txt'), 'listed');
    const { destinationFileClient: moved } = await f.rename('by-share-sas-moved.txt');
    eq((await readAll((await moved.download()).readableStreamBody)).toString(), 'share sas', 'read');
  });
  await check('file SAS: reads its file, not another', async () => {
    const token = generateFileSASQueryParameters({ shareName: S, filePath: 'a/b/one.txt', permissions: FileSASPermissions.parse('r'),
      expiresOn: new Date(Date.now() + 3600e3) }, cred).toString();
    const c = viaSas(token).getShareClient(S);
    eq((await c.getDirectoryClient('a/b').getFileClient('one.txt').getProperties()).contentLength, small.length, 'its file');
    await fails(c.rootDirectoryClient.getFileClient('taken.txt').getProperties(), 403, 'AuthenticationFailed');
  });
  await check('an expired SAS: 403 AuthenticationFailed', async () => {
    await fails(viaSas(sas('rl', -10)).getShareClient(S).getProperties(), 403, 'AuthenticationFailed');
    await fails(viaSas(accountSas('rl', -10)).getShareClient(S).getProperties(), 403, 'AuthenticationFailed');
  });
  await check('a read-only SAS writing: 403 AuthorizationPermissionMismatch', async () => {
    const c = viaSas(sas('rl', 60)).getShareClient(S);
    await fails(c.rootDirectoryClient.getFileClient('ro.txt').create(1), 403, 'AuthorizationPermissionMismatch');
    await fails(c.getDirectoryClient('a/b').getFileClient('one.txt').delete(), 403, 'AuthorizationPermissionMismatch');
    await fails(viaSas(sas('r', 60)).getShareClient(S).rootDirectoryClient.listFilesAndDirectories().next(), 403, 'AuthorizationPermissionMismatch');
  });
  await check('an account SAS for blobs only: 403 AuthorizationServiceMismatch', async () => {
    await fails(viaSas(accountSas('rl', 60, 'b')).getShareClient(S).getProperties(), 403, 'AuthorizationServiceMismatch');
  });
  if (url.startsWith('http:')) {
    await check('an https-only SAS over http: 403 AuthorizationProtocolMismatch', async () => {
      await fails(viaSas(sas('rl', 60, { protocol: SASProtocol.Https })).getShareClient(S).getProperties(), 403, 'AuthorizationProtocolMismatch');
    });
  }

  // --- the share goes ---
  await check('delete the share (202), then 404 ShareNotFound', async () => {
    eq((await share.delete())._response.status, 202, 'status');
    await fails(share.getProperties(), 404, 'ShareNotFound');
    await fails(root.getFileClient('x').getProperties(), 404, 'ShareNotFound');
  });
  return results;
};
