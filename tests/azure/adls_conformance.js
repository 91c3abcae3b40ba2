// `adls_sdk.js conformance`: the ADLS Gen2 double driven only through the
// official SDK (@azure/storage-file-datalake) with a Shared Key, with SAS
// tokens the SDK makes and with bearer tokens minted here (unsigned, as
// the double, like Azurite, does not verify signatures), each result
// checked. Returns {passed, failed: [{check, error}], skipped}; adls_sdk.js
// exits 1 when any failed.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const {
  DataLakeServiceClient, StorageSharedKeyCredential, newPipeline, generateAccountSASQueryParameters, generateDataLakeSASQueryParameters,
  AccountSASPermissions, FileSystemSASPermissions, DataLakeSASPermissions, DirectorySASPermissions, SASProtocol,
} = require('@azure/storage-file-datalake');

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
async function fails(promise, status, code) {
  try {
    await promise;
  } catch (e) {
    const got = e.code || (e.details && e.details.errorCode);
    if (e.statusCode === status && (code === undefined || got === code)) return e;
    throw new Error(`expected ${status} ${code || ''}, got ${e.statusCode} ${got} (${String(e.message).split('\n')[0]})`);
  }
  throw new Error(`expected ${status} ${code || ''}, but it succeeded`);
}
// jwt(claims): an unsigned-verified token of Entra ID's shape (RS256 header, random signature)
function jwt(claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ typ: 'JWT', alg: 'RS256', kid: 'ferry-test' })}.${enc(claims)}.${crypto.randomBytes(64).toString('base64url')}`;
}
function tokenCredential(claims) {
  return { getToken: async () => ({ token: jwt(claims), expiresOnTimestamp: Date.now() + 3600e3 }) };
}
// A pipeline that lets a check see the requests (in-flight appends) and add
// a header (a wrong Content-MD5 on an append, which the SDK never sends).
function watchedService(url, cred, watch) {
  const pipeline = newPipeline(cred, noRetry);
  pipeline.factories.push({
    create: (next) => ({
      async sendRequest(req) {
        const isAppend = /[?&]action=append/.test(req.url);
        if (isAppend && watch.contentMD5) req.headers.set('Content-MD5', watch.contentMD5);
        if (isAppend) { watch.inFlight++; watch.maxInFlight = Math.max(watch.maxInFlight, watch.inFlight); }
        try { return await next.sendRequest(req); } finally { if (isAppend) watch.inFlight--; }
      },
    }),
  });
  return new DataLakeServiceClient(url, pipeline);
}

module.exports = async function conformance({ service, cred, url, account, tlsUrl }) {
  const results = { passed: 0, failed: [], skipped: [] };
  const check = async (name, fn) => {
    try { await fn(); results.passed++; } catch (e) { results.failed.push({ check: name, error: e.message }); }
  };
  const tag = crypto.randomBytes(3).toString('hex');
  const F = `conf-${tag}`;
  const fsc = service.getFileSystemClient(F);
  const watch = { inFlight: 0, maxInFlight: 0, contentMD5: null };
  const wfs = watchedService(url, cred, watch).getFileSystemClient(F);
  const times = (minutes) => ({ startsOn: new Date(Date.now() - 3600e3), expiresOn: new Date(Date.now() + minutes * 60e3) });
  const fsSas = (perms, minutes) => generateDataLakeSASQueryParameters({ fileSystemName: F, permissions: FileSystemSASPermissions.parse(perms),
    protocol: SASProtocol.HttpsAndHttp, ...times(minutes) }, cred).toString();
  const viaSas = (token) => new DataLakeServiceClient(`${url}?${token}`, undefined, noRetry);

  // --- filesystems ---
  await check('create a filesystem (201); again: 409 ContainerAlreadyExists; exists', async () => {
    eq((await fsc.create())._response.status, 201, 'status');
    await fails(fsc.create(), 409, 'ContainerAlreadyExists');
    eq(await fsc.exists(), true, 'exists');
    eq(await service.getFileSystemClient(`${F}-none`).exists(), false, 'a missing one does not');
  });
  await check('listFileSystems finds it (prefix, pages of 1)', async () => {
    await service.getFileSystemClient(`${F}-b`).create();
    const names = [];
    for await (const page of service.listFileSystems({ prefix: F }).byPage({ maxPageSize: 1 })) {
      assert(page.fileSystemItems.length <= 1, 'page size');
      names.push(...page.fileSystemItems.map((f) => f.name));
    }
    eq(names, [F, `${F}-b`], 'names');
    await service.getFileSystemClient(`${F}-b`).delete();
  });
  await check('filesystem names: 400 InvalidResourceName', async () => {
    await fails(service.getFileSystemClient('Bad_Name').create(), 400, 'InvalidResourceName');
  });

  // --- directories and files ---
  await check('nested directory create makes its parents', async () => {
    await fsc.getDirectoryClient('d1/d2/d3').create();
    for (const d of ['d1', 'd1/d2', 'd1/d2/d3']) eq(await fsc.getDirectoryClient(d).exists(), true, d);
    const p = await fsc.getDirectoryClient('d1').getProperties();
    eq(p.metadata.hdi_isfolder, 'true', 'a directory is a blob with hdi_isfolder');
  });
  await check('file create: If-None-Match * on an existing file: 409 PathAlreadyExists; over a directory: 409', async () => {
    await fsc.getFileClient('d1/f0').create();
    await fails(fsc.getFileClient('d1/f0').create({ conditions: { ifNoneMatch: '*' } }), 409, 'PathAlreadyExists');
    await fails(fsc.getFileClient('d1/d2').create(), 409);
  });
  await check('names are case-sensitive', async () => {
    await fsc.getFileClient('Case/A.txt').upload(Buffer.from('upper'));
    await fsc.getFileClient('Case/a.txt').upload(Buffer.from('lower'));
    eq((await fsc.getFileClient('Case/A.txt').readToBuffer()).toString(), 'upper', 'A.txt');
    eq((await fsc.getFileClient('Case/a.txt').readToBuffer()).toString(), 'lower', 'a.txt');
  });
  const big = crypto.randomBytes(20 * MiB);
  await check('upload of 20 MiB in 1 MiB appends, several at once, flushed with its MD5', async () => {
    watch.maxInFlight = 0;
    await wfs.getFileClient('d1/big.bin').upload(big, { chunkSize: MiB, maxConcurrency: 8, singleUploadThreshold: MiB,
      pathHttpHeaders: { contentMD5: Buffer.from(md5(big), 'base64'), contentType: 'application/x-test' } });
    assert(watch.maxInFlight > 1, `appends in flight at once: ${watch.maxInFlight}`);
    const p = await fsc.getFileClient('d1/big.bin').getProperties();
    eq([p.contentLength, b64(p.contentMD5), p.contentType], [big.length, md5(big), 'application/x-test'], 'properties');
  });
  await check('whole read: the bytes and Content-MD5', async () => {
    const r = await fsc.getFileClient('d1/big.bin').read();
    eq(b64(r.contentMD5), md5(big), 'Content-MD5');
    eq(md5(await readAll(r.readableStreamBody)), md5(big), 'body');
  });
  await check('ranged read: 206, the range, the whole file\'s MD5 beside it', async () => {
    const r = await fsc.getFileClient('d1/big.bin').read(5 * MiB + 7, 1000);
    eq(r._response.status, 206, 'status');
    eq(r.contentRange, `bytes ${5 * MiB + 7}-${5 * MiB + 1006}/${big.length}`, 'Content-Range');
    eq((await readAll(r.readableStreamBody)).equals(big.subarray(5 * MiB + 7, 5 * MiB + 1007)), true, 'bytes');
    eq(b64(r.fileContentMD5), md5(big), 'x-ms-blob-content-md5');
  });
  await check('ranged read asking for its MD5: Content-MD5 of the range; over 4 MiB: 400 InvalidHeaderValue', async () => {
    const f = fsc.getFileClient('d1/big.bin');
    const r = await f.read(3 * MiB + 5, 4 * MiB, { rangeGetContentMD5: true });
    eq(r._response.status, 206, 'status');
    const got = await readAll(r.readableStreamBody);
    eq(got.equals(big.subarray(3 * MiB + 5, 7 * MiB + 5)), true, 'bytes');
    eq(b64(r.contentMD5), md5(got), 'the range\'s MD5');
    eq(b64(r.fileContentMD5), md5(big), 'the whole file\'s beside it');
    await fails(f.read(0, 4 * MiB + 1, { rangeGetContentMD5: true }), 400, 'InvalidHeaderValue');
  });
  await check('readToBuffer in parallel ranges and readToFile', async () => {
    const buf = await fsc.getFileClient('d1/big.bin').readToBuffer(undefined, undefined, { chunkSize: 4 * MiB, concurrency: 4 });
    eq(md5(buf), md5(big), 'readToBuffer');
    const tmp = path.join(os.tmpdir(), `adls-conf-${tag}.bin`);
    try {
      await fsc.getFileClient('d1/big.bin').readToFile(tmp);
      eq(md5(fs.readFileSync(tmp)), md5(big), 'readToFile');
    } finally { fs.rmSync(tmp, { force: true }); }
  });
  await check('append/flush: invisible until flush, out of order, InvalidFlushPosition', async () => {
    const f = fsc.getFileClient('d1/parts.txt');
    await f.create();
    await f.append(Buffer.from('world'), 6, 5);
    await f.append(Buffer.from('hello '), 0, 6);
    eq((await f.getProperties()).contentLength, 0, 'nothing visible before the flush');
    await fails(f.flush(12), 400, 'InvalidFlushPosition');
    await fails(f.flush(5), 400, 'InvalidFlushPosition');
    await f.flush(11, { pathHttpHeaders: { contentMD5: Buffer.from(md5(Buffer.from('hello world')), 'base64') } });
    eq((await f.readToBuffer()).toString(), 'hello world', 'content');
    eq(b64((await f.getProperties()).contentMD5), md5(Buffer.from('hello world')), 'stored MD5');
    await f.append(Buffer.from('!'), 11, 1);
    await f.flush(12, { close: true });
    eq((await f.readToBuffer()).toString(), 'hello world!', 'appended after');
  });
  await check('an append whose Content-MD5 is wrong: 400 Md5Mismatch', async () => {
    const f = wfs.getFileClient('d1/md5.txt');
    await f.create();
    watch.contentMD5 = md5(Buffer.from('something else'));
    try { await fails(f.append(Buffer.from('data'), 0, 4), 400, 'Md5Mismatch'); } finally { watch.contentMD5 = null; }
    watch.contentMD5 = md5(Buffer.from('data'));
    try { await f.append(Buffer.from('data'), 0, 4); } finally { watch.contentMD5 = null; }
  });
  await check('metadata, HTTP headers, access control round-trip', async () => {
    const f = fsc.getFileClient('d1/f0');
    await f.setMetadata({ colour: 'blue' });
    eq((await f.getProperties()).metadata, { colour: 'blue' }, 'metadata');
    await f.setHttpHeaders({ contentType: 'text/plain', contentMD5: Buffer.from(md5(Buffer.alloc(0)), 'base64') });
    eq((await f.getProperties()).contentType, 'text/plain', 'content type');
    await f.setPermissions({ owner: { read: true, write: true, execute: true }, group: { read: true, write: false, execute: true },
      other: { read: false, write: false, execute: false }, stickyBit: false, extendedAcls: false });
    const acl = await f.getAccessControl();
    eq([acl.permissions.owner.execute, acl.permissions.group.write, acl.owner], [true, false, '$superuser'], 'permissions');
  });

  // --- listing ---
  await check('listPaths recursive, pages of 2: every path once, directories first, in order', async () => {
    const names = [];
    let pages = 0;
    for await (const page of fsc.listPaths({ recursive: true }).byPage({ maxPageSize: 2 })) {
      pages++;
      assert(page.pathItems.length <= 2, 'page size');
      names.push(...page.pathItems.map((p) => `${p.name}${p.isDirectory ? '/' : ''}`));
    }
    eq(names, ['Case/', 'Case/A.txt', 'Case/a.txt', 'd1/', 'd1/big.bin', 'd1/d2/', 'd1/d2/d3/', 'd1/f0', 'd1/md5.txt', 'd1/parts.txt'], 'names');
    assert(pages >= 5, `pages: ${pages}`);
  });
  await check('listPaths of a directory, not recursive; sizes and times', async () => {
    const items = [];
    for await (const p of fsc.listPaths({ path: 'd1', recursive: false })) items.push(p);
    eq(items.map((p) => p.name), ['d1/big.bin', 'd1/d2', 'd1/f0', 'd1/md5.txt', 'd1/parts.txt'], 'names');
    eq(items[0].contentLength, big.length, 'size');
    assert(items[0].createdOn instanceof Date && Math.abs(items[0].createdOn - Date.now()) < 600e3, 'creation time');
    assert(items[0].lastModified instanceof Date, 'lastModified');
  });
  await check('listPaths of a missing directory: 404 PathNotFound', async () => {
    await fails(fsc.listPaths({ path: 'nope', recursive: true }).next(), 404, 'PathNotFound');
  });

  // --- rename ---
  await check('move a file: gone from the source, whole at the destination; replaces a file there', async () => {
    await fsc.getFileClient('d1/parts.txt').move('d1/d2/moved.txt');
    eq(await fsc.getFileClient('d1/parts.txt').exists(), false, 'source gone');
    eq((await fsc.getFileClient('d1/d2/moved.txt').readToBuffer()).toString(), 'hello world!', 'destination');
    await fsc.getFileClient('d1/f0').move('d1/d2/moved.txt');
    eq((await fsc.getFileClient('d1/d2/moved.txt').getProperties()).contentLength, 0, 'replaced');
  });
  await check('move a directory: its subtree moves with it', async () => {
    await fsc.getDirectoryClient('d1/d2').move('top');
    eq(await fsc.getDirectoryClient('d1/d2').exists(), false, 'source gone');
    eq(await fsc.getDirectoryClient('top/d3').exists(), true, 'child directory moved');
    eq(await fsc.getFileClient('top/moved.txt').exists(), true, 'child file moved');
  });
  await check('move a missing source: 404 SourcePathNotFound', async () => {
    await fails(fsc.getFileClient('nope/x').move('y'), 404, 'SourcePathNotFound');
  });

  // --- delete ---
  await check('delete a non-empty directory without recursive: 409 DirectoryNotEmpty; with it, gone', async () => {
    await fails(fsc.getDirectoryClient('top').delete(false), 409, 'DirectoryNotEmpty');
    await fsc.getDirectoryClient('top').delete(true);
    eq(await fsc.getFileClient('top/moved.txt').exists(), false, 'gone');
  });
  await check('delete a file; a missing one: 404 PathNotFound', async () => {
    await fsc.getFileClient('d1/md5.txt').delete();
    eq(await fsc.getFileClient('d1/md5.txt').exists(), false, 'gone');
    await fails(fsc.getFileClient('d1/md5.txt').delete(), 404, 'PathNotFound');
  });

  // --- credentials ---
  await check('a wrong key: 403 AuthenticationFailed', async () => {
    const wrong = new StorageSharedKeyCredential(account, Buffer.from('not the key').toString('base64'));
    await fails(new DataLakeServiceClient(url, wrong, noRetry).getFileSystemClient(F).getFileClient('d1/big.bin').getProperties(), 403);
    await fails(new DataLakeServiceClient(url, wrong, noRetry).getFileSystemClient(F).getDirectoryClient('x').create(), 403, 'AuthenticationFailed');
  });
  await check('a filesystem SAS (racwdl) writes, reads, lists, renames', async () => {
    const c = viaSas(fsSas('racwdlm', 60)).getFileSystemClient(F);
    await c.getFileClient('sas/one.txt').upload(Buffer.from('via sas'));
    eq((await c.getFileClient('sas/one.txt').readToBuffer()).toString(), 'via sas', 'read');
    const names = [];
    for await (const p of c.listPaths({ path: 'sas', recursive: true })) names.push(p.name);
    eq(names, ['sas/one.txt'], 'list');
    await c.getFileClient('sas/one.txt').move('sas/two.txt');
    eq(await c.getFileClient('sas/two.txt').exists(), true, 'renamed');
  });
  await check('a read-only SAS: reads; writing: 403 AuthorizationPermissionMismatch', async () => {
    const c = viaSas(fsSas('rl', 60)).getFileSystemClient(F);
    eq((await c.getFileClient('sas/two.txt').readToBuffer()).toString(), 'via sas', 'read');
    await fails(c.getFileClient('sas/three.txt').create(), 403, 'AuthorizationPermissionMismatch');
    await fails(c.getFileClient('sas/two.txt').delete(), 403, 'AuthorizationPermissionMismatch');
  });
  await check('an expired SAS: 403 AuthenticationFailed', async () => {
    await fails(viaSas(fsSas('racwdl', -5)).getFileSystemClient(F).getDirectoryClient('sas').create(), 403, 'AuthenticationFailed');
  });
  await check('a file SAS (sr=b) and a directory SAS (sr=d with sdd)', async () => {
    const fileSas = generateDataLakeSASQueryParameters({ fileSystemName: F, pathName: 'sas/two.txt', permissions: DataLakeSASPermissions.parse('r'),
      ...times(60) }, cred).toString();
    eq((await viaSas(fileSas).getFileSystemClient(F).getFileClient('sas/two.txt').readToBuffer()).toString(), 'via sas', 'file SAS reads');
    await fails(viaSas(fileSas).getFileSystemClient(F).getFileClient('d1/big.bin').getProperties(), 403);
    const dirSas = generateDataLakeSASQueryParameters({ fileSystemName: F, pathName: 'sas', isDirectory: true,
      permissions: DirectorySASPermissions.parse('rwc'), ...times(60) }, cred).toString();
    const d = viaSas(dirSas).getFileSystemClient(F);
    await d.getFileClient('sas/sub/four.txt').upload(Buffer.from('4'));
    eq((await d.getFileClient('sas/sub/four.txt').readToBuffer()).toString(), '4', 'directory SAS reads below');
    await fails(d.getFileClient('d1/big.bin').getProperties(), 403);
  });
  await check('an account SAS (ss=b): lists filesystems and works on files', async () => {
    const token = generateAccountSASQueryParameters({ permissions: AccountSASPermissions.parse('rwdlac'), resourceTypes: 'sco', services: 'b',
      ...times(60) }, cred).toString();
    const s = viaSas(token);
    const names = [];
    for await (const f of s.listFileSystems({ prefix: F })) names.push(f.name);
    eq(names, [F], 'listFileSystems');
    await s.getFileSystemClient(F).getFileClient('sas/acct.txt').upload(Buffer.from('acct'));
    eq((await s.getFileSystemClient(F).getFileClient('sas/acct.txt').readToBuffer()).toString(), 'acct', 'read');
    const ro = viaSas(generateAccountSASQueryParameters({ permissions: AccountSASPermissions.parse('rl'), resourceTypes: 'sco', services: 'b',
      ...times(60) }, cred).toString());
    await fails(ro.getFileSystemClient(F).getFileClient('sas/acct2.txt').create(), 403, 'AuthorizationPermissionMismatch');
  });

  // --- bearer tokens (need https: the SDK sends tokens over TLS only) ---
  if (!tlsUrl) {
    results.skipped.push('bearer tokens: AZURE_ADLS_TLS_URL is not set');
  } else {
    const now = Math.floor(Date.now() / 1000);
    const good = { aud: 'https://storage.azure.com', iss: 'https://sts.windows.net/ferry-tenant/', iat: now - 60, nbf: now - 60, exp: now + 3600, oid: 'x' };
    const as = (claims) => new DataLakeServiceClient(tlsUrl, tokenCredential(claims), noRetry).getFileSystemClient(`${F}-oauth`);
    await check('a bearer token (aud storage.azure.com, v1 issuer) creates, writes and reads', async () => {
      await as(good).create();
      await as(good).getFileClient('t/x.txt').upload(Buffer.from('token'));
      eq((await as(good).getFileClient('t/x.txt').readToBuffer()).toString(), 'token', 'read');
      const v2 = { ...good, aud: `https://${account}.dfs.core.windows.net/`, iss: 'https://login.microsoftonline.com/ferry-tenant/v2.0' };
      eq((await as(v2).getFileClient('t/x.txt').getProperties()).contentLength, 5, 'account dfs audience, v2 issuer');
    });
    await check('a bearer token for another audience: 401 InvalidAuthenticationInfo', async () => {
      await fails(as({ ...good, aud: 'https://vault.azure.net' }).getFileClient('t/x.txt').getProperties(), 401);
      await fails(as({ ...good, aud: 'https://other.blob.core.windows.net' }).getFileClient('t/y.txt').create(), 401, 'InvalidAuthenticationInfo');
    });
    await check('an expired bearer token: 401 InvalidAuthenticationInfo', async () => {
      await fails(as({ ...good, nbf: now - 7200, exp: now - 3600 }).getFileClient('t/y.txt').create(), 401, 'InvalidAuthenticationInfo');
    });
    await check('a token from an unknown issuer: 401 InvalidAuthenticationInfo', async () => {
      await fails(as({ ...good, iss: 'https://evil.example/ferry-tenant/' }).getFileClient('t/y.txt').create(), 401, 'InvalidAuthenticationInfo');
    });
    await as(good).delete().catch(() => {});
  }

  await check('delete the filesystem: 202; then it does not exist', async () => {
    eq((await fsc.delete())._response.status, 202, 'status');
    eq(await fsc.exists(), false, 'gone');
  });
  return results;
};
