// Microsoft's @azure/identity (MSAL inside) and @azure/storage-blob as the
// clients of tests/doubles/entra: each command gets a token with one
// credential kind and prints JSON (the token's claims, never the token), or
// uses it on Azure Storage (Azurite with --oauth basic).
// Usage: node identity.js <command> [args...]
//   secret SECRET [no-discovery]   ClientSecretCredential
//   cert PEM [chain]               ClientCertificateCredential (PEM = cert + key)
//   workload                       WorkloadIdentityCredential (AZURE_* variables)
//   mi [CLIENT_ID]                 ManagedIdentityCredential (the source the environment names)
//   default                        DefaultAzureCredential (environment variables)
//   blob KIND CONTAINER [ARG]      create CONTAINER, upload and download 1 MiB with the
//                                  credential KIND (secret ARG=SECRET | mi ARG=CLIENT_ID)
//   blob-token TOKEN CONTAINER     the same with a fixed bearer token (e.g. an expired one)
//   mint-federated KEYPEM ISSUER SUBJECT [AUDIENCE [LIFETIME]]
//                                  prints a federated (workload identity) token signed RS256
// Environment: ENTRA_URL (the double), ENTRA_TENANT, ENTRA_CLIENT, AZURITE_HTTPS_URL
// (https://127.0.0.1:PORT/devstoreaccount1), ENTRA_SCOPE (https://storage.azure.com/.default).
'use strict';
const fs = require('fs');
const crypto = require('crypto');

const scope = process.env.ENTRA_SCOPE || 'https://storage.azure.com/.default';
const b64url = (x) => Buffer.from(x).toString('base64url');

function claimsOf(token) {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h, 'base64url')), claims: JSON.parse(Buffer.from(p, 'base64url')) };
}

function credential(kind, arg, extra) {
  const id = require('@azure/identity');
  const common = { authorityHost: process.env.ENTRA_URL, retryOptions: { maxRetries: 1 } };
  const tenant = process.env.ENTRA_TENANT, client = process.env.ENTRA_CLIENT;
  switch (kind) {
    case 'secret':
      return new id.ClientSecretCredential(tenant, client, arg, { ...common, disableInstanceDiscovery: extra === 'no-discovery' });
    case 'cert':
      return new id.ClientCertificateCredential(tenant, client, { certificatePath: arg }, { ...common, sendCertificateChain: extra === 'chain' });
    case 'workload':
      return new id.WorkloadIdentityCredential({ ...common, authorityHost: process.env.AZURE_AUTHORITY_HOST || process.env.ENTRA_URL });
    case 'mi':
      return new id.ManagedIdentityCredential(arg ? { clientId: arg, retryOptions: { maxRetries: 0 } } : { retryOptions: { maxRetries: 0 } });
    case 'default':
      return new id.DefaultAzureCredential();
    default:
      throw new Error(`unknown credential kind ${kind}`);
  }
}

async function getToken(kind, arg, extra) {
  const t = await credential(kind, arg, extra).getToken(scope);
  const { header, claims } = claimsOf(t.token);
  return { ok: true, kind, header, claims, expiresOnTimestamp: t.expiresOnTimestamp };
}

async function blob(cred, container) {
  const { BlobServiceClient } = require('@azure/storage-blob');
  const svc = new BlobServiceClient(process.env.AZURITE_HTTPS_URL, cred, { retryOptions: { maxTries: 1 } });
  const c = svc.getContainerClient(container);
  await c.createIfNotExists();
  const data = crypto.randomBytes(1024 * 1024);
  const b = c.getBlockBlobClient('entra/one.bin');
  await b.uploadData(data, { blockSize: 256 * 1024, concurrency: 2 });
  const back = await b.downloadToBuffer();
  return { ok: true, container, bytes: back.length, same: back.equals(data) };
}

function staticToken(token) {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600e3 }) };
}

function mintFederated(keyPem, issuer, subject, audience = 'api://AzureADTokenExchange', lifetime = '3600') {
  const key = crypto.createPrivateKey(fs.readFileSync(keyPem));
  const now = Math.floor(Date.now() / 1000);
  const life = Number(lifetime);
  const header = { alg: 'RS256', typ: 'JWT', kid: 'ferry-test' };
  const payload = { aud: [audience], exp: now + life, iat: Math.min(now, now + life), nbf: Math.min(now, now + life) - 1,
    iss: issuer, sub: subject, jti: crypto.randomUUID() };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(crypto.sign('sha256', Buffer.from(input), key))}`;
}

function failure(e) {
  const out = { ok: false, name: e && e.name, message: String(e && e.message).slice(0, 2000) };
  if (e && e.statusCode) out.status = e.statusCode;
  if (e && e.code) out.code = e.code;
  const detail = e && e.details && (e.details.authenticationErrorDetail || e.details.AuthenticationErrorDetail);
  if (detail) out.detail = detail;
  if (e && e.details && e.details.errorCode) out.code = e.details.errorCode;
  return out;
}

async function main(argv) {
  const [cmd, ...a] = argv;
  switch (cmd) {
    case 'secret': return getToken('secret', a[0], a[1]);
    case 'cert': return getToken('cert', a[0], a[1]);
    case 'workload': return getToken('workload');
    case 'mi': return getToken('mi', a[0]);
    case 'default': return getToken('default');
    case 'blob': return blob(credential(a[0], a[2]), a[1]);
    case 'blob-token': return blob(staticToken(a[0]), a[1]);
    case 'mint-federated':
      process.stdout.write(`${mintFederated(...a)}\n`);
      return null;
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

main(process.argv.slice(2)).then((r) => {
  if (r) console.log(JSON.stringify(r));
}, (e) => {
  console.log(JSON.stringify(failure(e)));
  process.exit(1);
});
