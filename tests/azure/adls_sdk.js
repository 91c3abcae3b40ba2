// Microsoft's ADLS Gen2 SDK for JavaScript (@azure/storage-file-datalake) as
// a second client: `conformance` drives tests/doubles/adls through every
// operation the double offers and checks what comes back
// (adls_conformance.js); the other commands are helpers for ferry's
// cross-checks and benchmarks.
// Usage: node adls_sdk.js <command> [args...]; prints JSON.
// The account: AZURE_ADLS_URL=http://127.0.0.1:PORT/devstoreaccount1; for the
// bearer checks of `conformance`, AZURE_ADLS_TLS_URL (an https double, its CA
// in NODE_EXTRA_CA_CERTS).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const {
  DataLakeServiceClient, StorageSharedKeyCredential, generateAccountSASQueryParameters, generateDataLakeSASQueryParameters,
  AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, FileSystemSASPermissions, SASProtocol,
} = require('@azure/storage-file-datalake');

const account = 'devstoreaccount1';
// Azurite's documented development key (not a secret).
const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const url = process.env.AZURE_ADLS_URL;
if (!url) { console.error('AZURE_ADLS_URL is not set'); process.exit(2); }
const cred = new StorageSharedKeyCredential(account, key);
const noRetry = { retryOptions: { maxTries: 1 } };
const service = new DataLakeServiceClient(url, cred, noRetry);
const MiB = 1024 * 1024;
const md5 = (buf) => crypto.createHash('md5').update(buf).digest('base64');
const b64 = (u8) => (u8 ? Buffer.from(u8).toString('base64') : null);
const trim = (p) => (p || '').replace(/^\/+|\/+$/g, '');

const fileAt = (fsName, p) => service.getFileSystemClient(fsName).getFileClient(trim(p));
const dirAt = (fsName, p) => service.getFileSystemClient(fsName).getDirectoryClient(trim(p));
function sasTimes(minutes) {
  const now = Date.now();
  return { startsOn: new Date(now - 3600e3), expiresOn: new Date(now + Number(minutes) * 60e3) };
}
// pool(items, n, fn): fn over items, n at a time
async function pool(items, n, fn) {
  let next = 0;
  const worker = async () => { while (next < items.length) { const i = next++; await fn(items[i]); } };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}
function walkLocal(dir, rel = '') {
  const out = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walkLocal(dir, r)); else if (e.isFile()) out.push(r);
  }
  return out;
}
// listAll(fs, dir): every path below dir (recursive List Paths, all pages)
async function listAll(fsName, dir) {
  const out = [];
  const opts = { recursive: true };
  if (trim(dir)) opts.path = trim(dir);
  for await (const p of service.getFileSystemClient(fsName).listPaths(opts)) out.push(p);
  return out;
}
const conc = () => Number(process.env.ADLS_SDK_CONCURRENCY) || 8;

const commands = {
  // create FS
  async create(fsName) {
    await service.getFileSystemClient(fsName).createIfNotExists();
    return { created: fsName };
  },
  // mkdir FS DIR: the directory and its parents (the service makes them)
  async mkdir(fsName, dir) {
    await dirAt(fsName, dir).create();
    return { created: trim(dir) };
  },
  // put FS PATH FILE [single|parallel] [wrong-md5]: upload with the file's Content-MD5;
  // parallel = 4 MiB appends, 4 at a time; wrong-md5 then stores another MD5, as a
  // corrupted file would look
  async put(fsName, p, file, how, wrong) {
    const data = fs.readFileSync(file);
    const headers = wrong === 'none' ? {} : { contentMD5: Buffer.from(md5(data), 'base64') };
    const f = fileAt(fsName, p);
    if (how === 'parallel') {
      await f.uploadFile(file, { chunkSize: 4 * MiB, maxConcurrency: 4, singleUploadThreshold: 4 * MiB, pathHttpHeaders: headers });
    } else {
      await f.upload(data, { pathHttpHeaders: headers });
    }
    if (wrong === 'wrong-md5' || how === 'wrong-md5') {
      await f.setHttpHeaders({ contentMD5: Buffer.from(md5(Buffer.from('not the content')), 'base64') });
    }
    return { name: trim(p), size: data.length, md5: md5(data) };
  },
  // get FS PATH OUTFILE: download whole; the local file's MD5 and size
  async get(fsName, p, out) {
    await fileAt(fsName, p).readToFile(out);
    const data = fs.readFileSync(out);
    return { md5: md5(data), size: data.length };
  },
  // list FS [DIR]: recursive, sorted by name; md5 is the stored Content-MD5
  async list(fsName, dir = '') {
    const out = (await listAll(fsName, dir)).map((p) => (p.isDirectory ? { name: p.name, dir: true } : { name: p.name, size: p.contentLength }));
    await pool(out.filter((e) => !e.dir), 8, async (e) => {
      e.md5 = b64((await fileAt(fsName, e.name).getProperties()).contentMD5);
    });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },
  // props FS PATH
  async props(fsName, p) {
    const r = await fileAt(fsName, p).getProperties();
    return { size: r.contentLength, md5: b64(r.contentMD5), etag: r.etag, isDirectory: r.metadata && r.metadata.hdi_isfolder === 'true' };
  },
  // rm FS PATH: a file, or a directory with what it holds
  async rm(fsName, p) {
    await dirAt(fsName, p).delete(true);
    return { removed: trim(p) };
  },
  // sas FS PERMS MINUTES: a filesystem SAS (negative minutes: expired)
  async sas(fsName, perms, minutes) {
    return { sas: generateDataLakeSASQueryParameters({ fileSystemName: fsName, permissions: FileSystemSASPermissions.parse(perms),
      protocol: SASProtocol.HttpsAndHttp, ...sasTimes(minutes) }, cred).toString() };
  },
  // accountsas PERMS MINUTES: an account SAS for the Blob service (which covers dfs), all resource types
  async accountsas(perms, minutes) {
    return { sas: generateAccountSASQueryParameters({ permissions: AccountSASPermissions.parse(perms),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(), services: AccountSASServices.parse('b').toString(),
      protocol: SASProtocol.HttpsAndHttp, ...sasTimes(minutes) }, cred).toString() };
  },
  // upload-dir FS PREFIX LOCALDIR: $ADLS_SDK_CONCURRENCY (default 8) files at a time, each
  // in 4 MiB appends as many at a time
  async 'upload-dir'(fsName, prefix, local) {
    const n = conc();
    const files = walkLocal(local);
    const t0 = process.hrtime.bigint();
    let bytes = 0;
    await pool(files, n, async (rel) => {
      const src = path.join(local, rel);
      bytes += fs.statSync(src).size;
      await fileAt(fsName, path.posix.join(trim(prefix), rel)).uploadFile(src, { chunkSize: 4 * MiB, maxConcurrency: n, singleUploadThreshold: 4 * MiB });
    });
    return { files: files.length, bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  },
  // download-dir FS PREFIX LOCALDIR: every file under PREFIX, $ADLS_SDK_CONCURRENCY at a
  // time; a file of 8 MiB or more in 4 MiB ranges, as many at a time
  async 'download-dir'(fsName, prefix, local) {
    const n = conc();
    const t0 = process.hrtime.bigint();
    const base = trim(prefix);
    const files = (await listAll(fsName, base)).filter((p) => !p.isDirectory);
    let bytes = 0;
    await pool(files, n, async (p) => {
      const dest = path.join(local, base ? p.name.slice(base.length + 1) : p.name);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      if (p.contentLength >= 8 * MiB) {
        fs.writeFileSync(dest, await fileAt(fsName, p.name).readToBuffer(0, p.contentLength, { chunkSize: 4 * MiB, concurrency: n }));
      } else {
        await fileAt(fsName, p.name).readToFile(dest);
      }
      bytes += fs.statSync(dest).size;
    });
    return { files: files.length, bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  },
  async conformance() {
    return require('./adls_conformance.js')({ service, cred, url, account, key, tlsUrl: process.env.AZURE_ADLS_TLS_URL });
  },
};

if (require.main === module) {
  (async () => {
    const [cmd, ...args] = process.argv.slice(2);
    if (!commands[cmd]) { console.error(`unknown command ${cmd}`); process.exit(2); }
    try {
      const out = await commands[cmd](...args);
      console.log(JSON.stringify(out));
      if (out && out.failed && out.failed.length) process.exit(1);
    } catch (e) {
      console.error(`adls_sdk ${cmd}: ${e.statusCode || ''} ${e.code || ''} ${e.message.split('\n')[0]}`);
      process.exit(1);
    }
  })();
}
module.exports = { md5 };
