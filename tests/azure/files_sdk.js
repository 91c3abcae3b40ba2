// The official Azure Files SDK for JavaScript (@azure/storage-file-share) as
// a second client: `conformance` drives tests/doubles/azure-files through
// every operation the double offers and checks what comes back; the other
// commands are helpers for ferry's cross-checks and benchmarks.
// Usage: node files_sdk.js <command> [args...]; prints JSON.
// The account: AZURE_FILES_URL=http://127.0.0.1:PORT/devstoreaccount1.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const {
  ShareServiceClient, StorageSharedKeyCredential, generateAccountSASQueryParameters, generateFileSASQueryParameters,
  AccountSASPermissions, AccountSASResourceTypes, AccountSASServices, ShareSASPermissions, SASProtocol,
} = require('@azure/storage-file-share');

const account = 'devstoreaccount1';
// Azurite's documented development key (not a secret).
const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const url = process.env.AZURE_FILES_URL;
if (!url) { console.error('AZURE_FILES_URL is not set'); process.exit(2); }
const cred = new StorageSharedKeyCredential(account, key);
const noRetry = { retryOptions: { maxTries: 1 } };
const service = new ShareServiceClient(url, cred, noRetry);
const MiB = 1024 * 1024;
const md5 = (buf) => crypto.createHash('md5').update(buf).digest('base64');
const b64 = (u8) => (u8 ? Buffer.from(u8).toString('base64') : null);

// fileAt(share, "a/b/c.txt"): the file client; dirAt(share, "a/b"): the directory client
const fileAt = (share, p) => service.getShareClient(share).rootDirectoryClient.getFileClient(p.replace(/^\/+/, ''));
const dirAt = (share, p) => service.getShareClient(share).getDirectoryClient((p || '').replace(/^\/+|\/+$/g, ''));
async function mkdirs(share, dir) {
  let sofar = '';
  for (const part of dir.split('/').filter(Boolean)) {
    sofar = sofar ? `${sofar}/${part}` : part;
    await dirAt(share, sofar).createIfNotExists();
  }
}
async function readAll(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return Buffer.concat(chunks);
}
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
async function walkShare(share, dir) {
  const out = [];
  for await (const e of dirAt(share, dir).listFilesAndDirectories()) {
    const name = dir ? `${dir}/${e.name}` : e.name;
    if (e.kind === 'directory') {
      out.push({ name, dir: true });
      out.push(...await walkShare(share, name));
    } else {
      out.push({ name, size: e.properties.contentLength });
    }
  }
  return out;
}

const commands = {
  // create SHARE
  async create(share) {
    await service.getShareClient(share).createIfNotExists();
    return { created: share };
  },
  // mkdir SHARE DIR: the directory and its parents
  async mkdir(share, dir) {
    await mkdirs(share, dir);
    return { created: dir };
  },
  // put SHARE PATH FILE [single|parallel] [wrong-md5|none]: upload with Content-MD5 set; parallel =
  // 4 MiB ranges, 4 at a time; wrong-md5 then sets another MD5 (Set File Properties), as a
  // corrupted file would look; none sets no MD5 (as the SDK does unless asked)
  async put(share, p, file, how, wrong) {
    const data = fs.readFileSync(file);
    await mkdirs(share, path.posix.dirname(p) === '.' ? '' : path.posix.dirname(p));
    const headers = wrong === 'none' ? {} : { fileContentMD5: Buffer.from(md5(data), 'base64') };
    const f = fileAt(share, p);
    if (how === 'parallel') {
      await f.uploadFile(file, { rangeSize: 4 * MiB, concurrency: 4, fileHttpHeaders: headers });
    } else {
      await f.uploadData(data, { fileHttpHeaders: headers });
    }
    if (wrong === 'wrong-md5') {
      await f.setHttpHeaders({ fileContentMD5: Buffer.from(md5(Buffer.from('not the content')), 'base64') });
    }
    return { name: p, size: data.length, md5: md5(data) };
  },
  // get SHARE PATH OUTFILE: download whole; the local file's MD5 and size
  async get(share, p, out) {
    await fileAt(share, p).downloadToFile(out);
    const data = fs.readFileSync(out);
    return { md5: md5(data), size: data.length };
  },
  // list SHARE [DIR]: a recursive walk, sorted by name; md5 is the stored Content-MD5
  async list(share, dir = '') {
    const out = await walkShare(share, dir.replace(/^\/+|\/+$/g, ''));
    await pool(out.filter((e) => !e.dir), 8, async (e) => {
      e.md5 = b64((await fileAt(share, e.name).getProperties()).contentMD5);
    });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },
  // props SHARE PATH
  async props(share, p) {
    const r = await fileAt(share, p).getProperties();
    return { size: r.contentLength, md5: b64(r.contentMD5), etag: r.etag, contentType: r.contentType };
  },
  // rm SHARE PATH: a file, or an empty directory
  async rm(share, p) {
    try {
      await fileAt(share, p).delete();
    } catch (e) {
      if (e.statusCode !== 404) throw e;
      await dirAt(share, p).delete();
    }
    return { removed: p };
  },
  // sas SHARE PERMS MINUTES: a share SAS (negative minutes: expired)
  async sas(share, perms, minutes) {
    return { sas: generateFileSASQueryParameters({ shareName: share, permissions: ShareSASPermissions.parse(perms),
      protocol: SASProtocol.HttpsAndHttp, ...sasTimes(minutes) }, cred).toString() };
  },
  // accountsas PERMS MINUTES: an account SAS for the File service, all resource types
  async accountsas(perms, minutes) {
    return { sas: generateAccountSASQueryParameters({ permissions: AccountSASPermissions.parse(perms),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(), services: AccountSASServices.parse('f').toString(),
      protocol: SASProtocol.HttpsAndHttp, ...sasTimes(minutes) }, cred).toString() };
  },
  // upload-dir SHARE PREFIX LOCALDIR: $FILES_SDK_CONCURRENCY (default 8) files at a time, each
  // in 4 MiB ranges as many at a time
  async 'upload-dir'(share, prefix, local) {
    const n = Number(process.env.FILES_SDK_CONCURRENCY) || 8;
    const files = walkLocal(local);
    const dirs = new Set(files.map((f) => path.posix.join(prefix, path.posix.dirname(f))).map((d) => d.replace(/^\.$|\/\.$/, '')));
    const t0 = process.hrtime.bigint();
    for (const d of [...dirs].sort()) await mkdirs(share, d);
    let bytes = 0;
    await pool(files, n, async (rel) => {
      const src = path.join(local, rel);
      bytes += fs.statSync(src).size;
      await fileAt(share, path.posix.join(prefix, rel)).uploadFile(src, { rangeSize: 4 * MiB, concurrency: n });
    });
    return { files: files.length, bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  },
  // download-dir SHARE PREFIX LOCALDIR: every file under PREFIX, $FILES_SDK_CONCURRENCY (default
  // 8) at a time; a file of 8 MiB or more in 4 MiB ranges, as many at a time (into memory, the
  // SDK's parallel download, then to disk)
  async 'download-dir'(share, prefix, local) {
    const n = Number(process.env.FILES_SDK_CONCURRENCY) || 8;
    const t0 = process.hrtime.bigint();
    const base = prefix.replace(/^\/+|\/+$/g, '');
    const files = (await walkShare(share, base)).filter((e) => !e.dir);
    let bytes = 0;
    await pool(files, n, async (e) => {
      const dest = path.join(local, base ? e.name.slice(base.length + 1) : e.name);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      if (e.size >= 8 * MiB) {
        const buf = await fileAt(share, e.name).downloadToBuffer(0, e.size, { rangeSize: 4 * MiB, concurrency: n });
        fs.writeFileSync(dest, buf);
      } else {
        await fileAt(share, e.name).downloadToFile(dest);
      }
      bytes += fs.statSync(dest).size;
    });
    return { files: files.length, bytes, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
  },
  async conformance() { return require('./files_conformance.js')({ service, cred, url, account, key }); },
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
      console.error(`files_sdk ${cmd}: ${e.statusCode || ''} ${e.code || ''} ${e.message.split('\n')[0]}`);
      process.exit(1);
    }
  })();
}
module.exports = { md5, readAll };
