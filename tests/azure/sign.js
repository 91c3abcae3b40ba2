// Known answers for ferry's SharedKey signing, from the official Azure SDK
// for JavaScript: requests are built and signed by the SDK, then caught
// before they leave (no server). Prints one JSON object per line: method,
// url and headers as sent, Authorization included. tests/unit/test_auth.c
// holds a few lines of this output; tests/integration/signing.sh signs a
// fresh set (new dates, new request ids) each run and compares.
'use strict';
const { BlobServiceClient, StorageSharedKeyCredential, newPipeline } = require('@azure/storage-blob');

// Azurite's documented development key (not a secret).
const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const captured = [];
const httpClient = { async sendRequest(req) { captured.push(req); throw new Error('caught'); } };
const pipeline = newPipeline(new StorageSharedKeyCredential('devstoreaccount1', key),
                             { httpClient, retryOptions: { maxTries: 1 } });
const svc = new BlobServiceClient('http://127.0.0.1:10000/devstoreaccount1', pipeline);

async function requests() {
  const c = svc.getContainerClient('c');
  const b = c.getBlockBlobClient('dir/a b+c ü.txt');
  const calls = [
    () => b.stageBlock('YmxvY2s=', Buffer.from('hello'), 5, { transactionalContentMD5: Buffer.alloc(16, 1) }),
    () => b.download(0, 10, { conditions: { ifMatch: '"0x1"' } }),
    () => c.listBlobsFlat({ prefix: 'a b/', includeMetadata: true }).byPage({ maxPageSize: 7 }).next(),
    () => c.listBlobsByHierarchy('/', { prefix: 'x&y=z/' }).byPage({ continuationToken: 'm%2F1' }).next(),
    () => b.commitBlockList(['YmxvY2s=', 'YmxvY2t6'], { metadata: { Zeta: 'last', alpha: 'first' },
                                                        blobHTTPHeaders: { blobContentType: 'text/plain', blobContentMD5: Buffer.alloc(16, 2) } }),
    () => b.getBlockList('all'),
    () => b.delete(),
    () => c.create(),
  ];
  for (const call of calls) {
    try { await call(); } catch (e) { /* caught before sending */ }
  }
}

requests().then(() => {
  for (const r of captured) {
    console.log(JSON.stringify({ method: r.method, url: r.url, headers: r.headers.rawHeaders() }));
  }
});
