// Managed identity endpoints, in the three shapes the Azure SDKs use:
//  - IMDS: GET /metadata/identity/oauth2/token?api-version=2018-02-01
//    &resource=R[&client_id=|object_id=|msi_res_id=], header Metadata: true;
//    numbers as strings, expires_on in epoch seconds.
//  - App Service: GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=R
//    [&client_id=|principal_id=|mi_res_id=], header X-IDENTITY-HEADER.
//  - Azure ML compute: GET MSI_ENDPOINT?api-version=2017-09-01&resource=R
//    [&clientid=], header secret (MSAL sends Metadata: true as well).
// Both App Service and Azure ML are served at /msi/token (the api-version
// says which); IMDS at its own path. Identities: one system-assigned
// (client id --mi-system-client-id) and optionally one user-assigned
// (--mi-client-id); object ids and resource ids are derived from them.
'use strict';
const crypto = require('crypto');
const { MiError, send } = require('./http.js');
const { mint, uuidFor } = require('./sts.js');

function imdsError(status, error, description) { return new MiError(status, { error, error_description: description }); }
function serviceError(ctx, status, message) { // App Service's error shape
  return new MiError(status, { statusCode: status, message, correlationId: crypto.randomUUID() });
}

// identities(cfg): the managed identities this "machine" has.
function identities(cfg) {
  const list = [{ clientId: cfg.mi.systemClientId, system: true }];
  if (cfg.mi.userClientId) list.push({ clientId: cfg.mi.userClientId, system: false });
  for (const id of list) {
    id.objectId = uuidFor('mi', cfg.tenant, id.clientId);
    id.resourceId = id.system ? null
      : `/subscriptions/${uuidFor('sub', cfg.tenant)}/resourcegroups/ferry-tests/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${id.clientId}`;
  }
  return list;
}

// pick(cfg, q, names): the identity the query asks for ({kind: value} of the
// names given), the system one when none; null when none matches.
function pick(cfg, q, names) {
  const asked = Object.entries(names).filter(([, n]) => q.get(n) !== undefined && q.get(n) !== '');
  if (asked.length > 1) return undefined;
  const all = identities(cfg);
  if (asked.length === 0) return all[0];
  const [kind, name] = asked[0];
  const v = q.get(name).toLowerCase();
  return all.find((id) => (id[kind] || '').toLowerCase() === v) || null;
}

function issue(ctx, id, resource) {
  const t = mint(ctx.cfg, { resource, appid: id.clientId, oid: id.objectId, appidacr: '2',
    extra: id.resourceId ? { xms_mirid: id.resourceId } : {} });
  ctx.client = id.clientId;
  ctx.outcome = 'issued';
  return t;
}

function imds(ctx) {
  const q = ctx.query, h = ctx.req.headers;
  ctx.kind = 'imds';
  if (ctx.req.method !== 'GET') throw imdsError(405, 'method_not_allowed', 'Only GET is allowed.');
  if (h.metadata !== 'true') throw imdsError(400, 'bad_request_102', 'Required metadata header not specified');
  if (h['x-forwarded-for'] !== undefined) throw imdsError(400, 'bad_request_102', 'X-Forwarded-For header is not allowed');
  const v = q.get('api-version');
  if (!v) throw imdsError(400, 'invalid_request', "Required query variable 'api-version' is missing");
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || v < '2018-02-01') throw imdsError(400, 'invalid_request', `Invalid api-version: ${v.slice(0, 40)}`);
  const resource = q.get('resource');
  if (!resource) throw imdsError(400, 'invalid_request', "Required query variable 'resource' is missing");
  const id = pick(ctx.cfg, q, { clientId: 'client_id', objectId: 'object_id', resourceId: 'msi_res_id' });
  if (id === undefined) throw imdsError(400, 'invalid_request', 'Only one of client_id, object_id or msi_res_id may be given');
  if (!id) throw imdsError(400, 'invalid_request', 'Identity not found');
  const t = issue(ctx, id, resource);
  const life = String(t.exp - t.iat);
  send(ctx, 200, { access_token: t.token, client_id: id.clientId, expires_in: life, expires_on: String(t.exp),
    ext_expires_in: life, not_before: String(t.iat), resource, token_type: 'Bearer' });
}

// appService(ctx) and machineLearning(ctx): the secret header checked
// against --mi-secret-env; without it these endpoints are not served.
function appService(ctx) {
  const q = ctx.query;
  ctx.kind = 'app-service';
  checkSecret(ctx, 'x-identity-header');
  const resource = q.get('resource');
  if (!resource) throw serviceError(ctx, 400, "The 'resource' request parameter is required.");
  const id = pick(ctx.cfg, q, { clientId: 'client_id', objectId: 'principal_id', resourceId: 'mi_res_id' });
  if (id === undefined) throw serviceError(ctx, 400, 'Only one of client_id, principal_id or mi_res_id may be given.');
  if (!id) throw serviceError(ctx, 400, 'Unable to load the proper Managed Identity. Identity not found.');
  const t = issue(ctx, id, resource);
  send(ctx, 200, { access_token: t.token, expires_on: String(t.exp), resource, token_type: 'Bearer', client_id: id.clientId });
}
function machineLearning(ctx) {
  const q = ctx.query;
  ctx.kind = 'azure-ml';
  checkSecret(ctx, 'secret');
  const resource = q.get('resource');
  if (!resource) throw serviceError(ctx, 400, "The 'resource' request parameter is required.");
  const id = pick(ctx.cfg, q, { clientId: 'clientid' });
  if (!id) throw serviceError(ctx, 400, 'Unable to load the proper Managed Identity. Identity not found.');
  const t = issue(ctx, id, resource);
  send(ctx, 200, { access_token: t.token, expires_on: String(t.exp), resource, token_type: 'Bearer', clientid: id.clientId });
}
function checkSecret(ctx, header) {
  if (ctx.req.method !== 'GET') throw serviceError(ctx, 405, 'Only GET is allowed.');
  const expected = ctx.cfg.mi.secret;
  if (!expected) throw serviceError(ctx, 404, 'This managed identity endpoint is not configured (no --mi-secret-env).');
  const got = ctx.req.headers[header];
  const same = typeof got === 'string' && got.length === expected.length && crypto.timingSafeEqual(Buffer.from(got), Buffer.from(expected));
  if (!same) throw serviceError(ctx, 401, `Unauthorized: the ${header === 'secret' ? 'secret' : 'X-IDENTITY-HEADER'} header is missing or does not match.`);
}

// route(ctx, segs): handles a managed-identity request, else returns false.
function route(ctx, segs) {
  const p = segs.join('/').toLowerCase();
  if (p === 'metadata/identity/oauth2/token') return imds(ctx), true;
  if (p !== 'msi/token' && p !== 'msi/auth') return false;
  const v = ctx.query.get('api-version');
  if (v === '2017-09-01') return machineLearning(ctx), true;
  if (v === '2019-08-01') return appService(ctx), true;
  ctx.kind = 'app-service';
  throw serviceError(ctx, 400, `The api-version '${String(v).slice(0, 40)}' is not supported (2019-08-01: App Service; 2017-09-01: Azure ML).`);
}

module.exports = { route, identities };
