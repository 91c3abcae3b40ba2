// The official Azure Storage SDK for JavaScript as a second client in the
// tests: it checks what ferry wrote and writes what ferry must read.
// Usage: node sdk.js <command> [args...]; prints JSON. The account is
// Azurite's (AZURITE_BLOB_URL=http://127.0.0.1:PORT/devstoreaccount1).
'use strict';
const fs = require('fs');
const crypto = require('crypto');
const {
  BlobServiceClient, StorageSharedKeyCredential, generateAccountSASQueryParameters,
  generateBlobSASQueryParameters, AccountSASPermissions, AccountSASResourceTypes,
  AccountSASServices, ContainerSASPermissions, SASProtocol,
} = require('@azure/storage-blob');
// Microsoft's own CRC64 (Azure's, of x-ms-content-crc64): what ferry's block ids are checked by
const { StorageCRC64Calculator } = require('@azure/storage-common');

const account = 'devstoreaccount1';
// Azurite's documented development key (not a secret).
const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const url = process.env.AZURITE_BLOB_URL;
if (!url) { console.error('AZURITE_BLOB_URL is not set'); process.exit(2); }
const cred = new StorageSharedKeyCredential(account, key);
const service = new BlobServiceClient(url, cred);
const md5 = (buf) => crypto.createHash('md5').update(buf).digest('base64');
const b64 = (u8) => (u8 ? Buffer.from(u8).toString('base64') : null);
// crc64hex(buf): Azure's CRC64 of buf by Microsoft's calculator, in hex as ferry writes it (its
// 8 bytes as x-ms-content-crc64 carries them, little-endian)
async function crc64hex(buf) {
  await StorageCRC64Calculator.init();
  return Buffer.from(new StorageCRC64Calculator().final(buf, buf.length)).toString('hex');
}
// ferryId(index, part): the id ferry gives a block: "ferry-<index>-<CRC64>", in hex (with
// SDK_IDS=md5, an earlier ferry's "ferry-<index>-<MD5>")
async function ferryId(index, part) {
  const hex = process.env.SDK_IDS === 'md5' ? crypto.createHash('md5').update(part).digest('hex')
    : await crc64hex(part);
  return `ferry-${String(index).padStart(5, '0')}-${hex}`;
}

const commands = {
  // create CONTAINER [public]
  async create(container, access) {
    const c = service.getContainerClient(container);
    await c.createIfNotExists(access === 'public' ? { access: 'container' } : {});
    return { created: container };
  },
  // put CONTAINER NAME FILE [single|blocks] [wrong-md5|none]: upload with the blob's MD5 set;
  // wrong-md5 then replaces the stored MD5 (Set Blob Properties), as a corrupted blob would look;
  // none clears it
  async put(container, name, file, how = 'single', wrong) {
    const data = fs.readFileSync(file);
    const blob = service.getContainerClient(container).getBlockBlobClient(name);
    const headers = { blobContentMD5: Buffer.from(md5(data), 'base64') };
    if (how === 'blocks') {
      // many blocks, staged in parallel by the SDK
      await blob.uploadData(data, { blockSize: 4 * 1024 * 1024, maxSingleShotSize: 1024 * 1024,
                                    concurrency: 4, blobHTTPHeaders: headers });
    } else {
      await blob.upload(data, data.length, { blobHTTPHeaders: headers });
    }
    if (wrong === 'none') { // no MD5 at all, as a blob another tool committed without one
      await blob.setHTTPHeaders({});
    } else if (wrong) {
      await blob.setHTTPHeaders({ blobContentMD5: Buffer.from(md5(Buffer.from('not the data')), 'base64') });
    }
    return { name, size: data.length, md5: md5(data) };
  },
  // ferry-blocks CONTAINER NAME FILE [BAD]: the file in 8 MiB blocks (SDK_BLOCK_MIB) named as ferry names its
  // own (ferryId: the CRC64 by Microsoft's calculator), committed with the whole file's MD5;
  // block BAD is stored with one byte changed under the id of the right bytes, as a block
  // damaged after it was hashed would be
  async 'ferry-blocks'(container, name, file, bad) {
    const data = fs.readFileSync(file);
    const blob = service.getContainerClient(container).getBlockBlobClient(name);
    const size = (Number(process.env.SDK_BLOCK_MIB) || 8) * 1024 * 1024, ids = [];
    for (let i = 0, off = 0; off < data.length; i++, off += size) {
      let part = data.subarray(off, Math.min(off + size, data.length));
      const id = Buffer.from(await ferryId(i, part)).toString('base64');
      if (bad !== undefined && Number(bad) === i) {
        part = Buffer.from(part);
        part[part.length >> 1] ^= 0x5a;
      }
      await blob.stageBlock(id, part, part.length);
      ids.push(id);
    }
    await blob.commitBlockList(ids, { blobHTTPHeaders: { blobContentMD5: Buffer.from(md5(data), 'base64') } });
    return { name, blocks: ids.length };
  },
  // ferry-ids CONTAINER NAME: each committed block of a blob ferry uploaded, read by the SDK and
  // its id compared with the one Microsoft's CRC64 gives its bytes
  async 'ferry-ids'(container, name) {
    const blob = service.getContainerClient(container).getBlockBlobClient(name);
    const list = await blob.getBlockList('committed');
    let off = 0, same = 0;
    const differ = [];
    for (const [i, b] of (list.committedBlocks || []).entries()) {
      const id = Buffer.from(b.name, 'base64').toString();
      const want = await ferryId(i, await blob.downloadToBuffer(off, b.size));
      if (id === want) same++; else differ.push({ index: i, id, want });
      off += b.size;
    }
    return { blocks: (list.committedBlocks || []).length, same, differ };
  },
  // list CONTAINER [PREFIX]
  async list(container, prefix) {
    const out = [];
    for await (const b of service.getContainerClient(container).listBlobsFlat({ prefix })) {
      out.push({ name: b.name, size: b.properties.contentLength, md5: b64(b.properties.contentMD5),
                 etag: b.properties.etag });
    }
    return out;
  },
  // blocks CONTAINER NAME: the blob's block list, committed and staged (uncommitted)
  async blocks(container, name) {
    const blob = service.getContainerClient(container).getBlockBlobClient(name);
    try {
      const r = await blob.getBlockList('all');
      const ids = (l) => (l || []).map((b) => ({ id: Buffer.from(b.name, 'base64').toString(), size: b.size }));
      return { committed: ids(r.committedBlocks), uncommitted: ids(r.uncommittedBlocks) };
    } catch (e) {
      if (e.statusCode === 404) return { committed: [], uncommitted: [] };
      throw e;
    }
  },
  // stage CONTAINER NAME ID: stages one small block under ID (raw; encoded here), as another
  // tool's interrupted upload would leave it
  async stage(container, name, id) {
    const blob = service.getContainerClient(container).getBlockBlobClient(name);
    const data = Buffer.from('staged by another tool');
    await blob.stageBlock(Buffer.from(id).toString('base64'), data, data.length);
    return { staged: id };
  },
  // get CONTAINER NAME FILE: download; reports the MD5 the service holds
  async get(container, name, file) {
    const blob = service.getContainerClient(container).getBlobClient(name);
    await blob.downloadToFile(file);
    const p = await blob.getProperties();
    return { name, size: p.contentLength, md5: b64(p.contentMD5), local_md5: md5(fs.readFileSync(file)) };
  },
  // sas-account PERMS MINUTES (negative: expired)
  async 'sas-account'(perms, minutes) {
    const now = Date.now();
    const start = new Date(now - 3600e3), expiresOn = new Date(now + Number(minutes) * 60e3);
    return { sas: generateAccountSASQueryParameters({
      expiresOn, startsOn: start, permissions: AccountSASPermissions.parse(perms),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(), protocol: SASProtocol.HttpsAndHttp,
    }, cred).toString() };
  },
  // sas-container CONTAINER PERMS MINUTES
  async 'sas-container'(container, perms, minutes) {
    const now = Date.now();
    return { sas: generateBlobSASQueryParameters({
      containerName: container, permissions: ContainerSASPermissions.parse(perms),
      startsOn: new Date(now - 3600e3), expiresOn: new Date(now + Number(minutes) * 60e3),
      protocol: SASProtocol.HttpsAndHttp,
    }, cred).toString() };
  },
};

(async () => {
  const [cmd, ...args] = process.argv.slice(2);
  if (!commands[cmd]) { console.error(`unknown command ${cmd}`); process.exit(2); }
  try {
    console.log(JSON.stringify(await commands[cmd](...args)));
  } catch (e) {
    console.error(`sdk ${cmd}: ${e.statusCode || ''} ${e.code || ''} ${e.message.split('\n')[0]}`);
    process.exit(1);
  }
})();
