// The security token service: the token endpoints (v2.0 with scope=, v1
// with resource=), client authentication (secret, certificate assertion,
// federated token), the discovery documents MSAL reads first, and the
// access tokens themselves.
'use strict';
const crypto = require('crypto');
const jwt = require('./jwt.js');
const { EntraError, send, readBody, parseForm } = require('./http.js');

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
const SKEW = 300; // seconds of clock skew Entra allows on assertions
const MAX_FORM = 64 * 1024;
const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
// The public clouds' instance metadata, as instance discovery lists it.
const CLOUDS = [
  { preferred_network: 'login.microsoftonline.com', preferred_cache: 'login.windows.net',
    aliases: ['login.microsoftonline.com', 'login.windows.net', 'login.microsoft.com', 'sts.windows.net'] },
  { preferred_network: 'login.partner.microsoftonline.cn', preferred_cache: 'login.partner.microsoftonline.cn',
    aliases: ['login.partner.microsoftonline.cn', 'login.chinacloudapi.cn'] },
  { preferred_network: 'login.microsoftonline.us', preferred_cache: 'login.microsoftonline.us',
    aliases: ['login.microsoftonline.us', 'login.usgovcloudapi.net'] },
];
const AUTHORITY_HOSTS = new Set(CLOUDS.flatMap((c) => c.aliases));

// uuidFor(...parts): a stable GUID-shaped id derived from the parts (object
// ids of the app and of the managed identities).
function uuidFor(...parts) {
  const h = crypto.createHash('sha256').update(parts.join('\n')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

// mint(cfg, who): a v1.0 access token as Azure Storage receives them.
// who = {resource, appid, oid, appidacr, extra}; returns {token, iat, exp}.
function mint(cfg, who) {
  const iat = Math.floor(Date.now() / 1000);
  const exp = iat + cfg.lifetime;
  const sts = `https://sts.windows.net/${cfg.tenant}/`;
  const payload = {
    aud: who.resource, iss: sts, iat, nbf: iat, exp,
    aio: jwt.b64url(crypto.randomBytes(24)),
    appid: who.appid, appidacr: who.appidacr, idp: sts, idtyp: 'app',
    oid: who.oid, rh: `0.${jwt.b64url(crypto.randomBytes(12))}.`, sub: who.oid, tid: cfg.tenant,
    uti: jwt.b64url(crypto.randomBytes(16)), ver: '1.0', ...who.extra,
  };
  const token = jwt.sign({ typ: 'JWT', x5t: cfg.signer.kid, kid: cfg.signer.kid }, payload, cfg.signer.privateKey);
  return { token, iat, exp };
}

// --- discovery ---
function tenantKnown(cfg, t) { return t.toLowerCase() === cfg.tenant.toLowerCase(); }
function unknownTenant(t) {
  return new EntraError(400, 'invalid_request', 90002, `Tenant '${t}' not found. Check to make sure you have the correct tenant ID ` +
    'and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.');
}
function openidConfiguration(ctx, tenant, v2) {
  if (!tenantKnown(ctx.cfg, tenant)) throw unknownTenant(tenant);
  const t = ctx.cfg.tenant, b = ctx.base;
  const p = v2 ? 'oauth2/v2.0' : 'oauth2';
  send(ctx, 200, {
    token_endpoint: `${b}/${t}/${p}/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${b}/${t}/discovery/${v2 ? 'v2.0/' : ''}keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: v2 ? `${b}/${t}/v2.0` : `https://sts.windows.net/${t}/`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${b}/${t}/${p}/authorize`,
    device_authorization_endpoint: `${b}/${t}/${p}/devicecode`,
    end_session_endpoint: `${b}/${t}/${p}/logout`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
  });
  ctx.outcome = 'ok';
}
// instanceDiscovery: the clouds' metadata, plus an entry of its own for an
// authorization endpoint on a loopback host (this double), which real Entra
// would not know (AADSTS50049 for any other unknown host).
function instanceDiscovery(ctx) {
  let u;
  try { u = new URL(ctx.query.get('authorization_endpoint') || ''); } catch { u = null; }
  const loopback = u && /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(u.hostname);
  if (!u || u.protocol !== 'https:' || !(loopback || AUTHORITY_HOSTS.has(u.hostname))) {
    throw new EntraError(400, 'invalid_instance', 50049, 'Unknown or invalid instance.');
  }
  const tenant = u.pathname.split('/')[1] || 'common';
  const metadata = loopback ? [{ preferred_network: u.host, preferred_cache: u.host, aliases: [u.host] }, ...CLOUDS] : CLOUDS;
  send(ctx, 200, {
    tenant_discovery_endpoint: `${u.origin}/${tenant}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata,
  });
  ctx.outcome = 'ok';
}
function keys(ctx, tenant) {
  if (tenant !== 'common' && !tenantKnown(ctx.cfg, tenant)) throw unknownTenant(tenant);
  send(ctx, 200, { keys: [{ ...ctx.cfg.signer.jwk, issuer: `${ctx.base}/${ctx.cfg.tenant}/v2.0` }] });
  ctx.outcome = 'ok';
}

// --- the token endpoint ---
function missing(name) {
  return new EntraError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`);
}
// clientCredentials(ctx): {clientId, secret, assertion, assertionType}, from
// the body or from an HTTP Basic header (client_secret_basic).
function clientCredentials(ctx, form) {
  const c = { clientId: form.get('client_id'), secret: form.get('client_secret'),
    assertion: form.get('client_assertion'), assertionType: form.get('client_assertion_type') };
  const auth = ctx.req.headers.authorization;
  if (auth && /^basic /i.test(auth)) {
    const text = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const i = text.indexOf(':');
    let id, secret;
    try {
      id = decodeURIComponent(text.slice(0, Math.max(i, 0)).replace(/\+/g, ' '));
      secret = decodeURIComponent(text.slice(i + 1).replace(/\+/g, ' '));
    } catch {
      throw new EntraError(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    }
    if (c.clientId && c.clientId !== id) throw new EntraError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid.');
    c.clientId = id;
    c.secret = secret;
  }
  return c;
}
// resourceOf(form, v2): the resource a token is asked for (scope= on v2.0, resource= on v1).
function resourceOf(form, v2) {
  if (!v2) {
    const r = form.get('resource');
    if (!r) throw missing('resource');
    return r;
  }
  const scope = form.get('scope');
  if (scope === undefined || scope.trim() === '') throw missing('scope');
  const scopes = scope.split(/\s+/).filter((s) => s && !OIDC_SCOPES.has(s));
  const bad = scopes.find((s) => !/^\S+\/\.default$/.test(s)) || (scopes.length !== 1 && scope);
  if (bad || scopes.length !== 1) {
    throw new EntraError(400, 'invalid_scope', 1002012, `The provided value for scope ${bad || scope} is not valid. Client credential ` +
      'flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).');
  }
  return scopes[0].slice(0, -'/.default'.length);
}

const eq = (a, b) => {
  const x = crypto.createHash('sha256').update(String(a)).digest(), y = crypto.createHash('sha256').update(String(b)).digest();
  return crypto.timingSafeEqual(x, y);
};
const iso = (s) => (typeof s === 'number' ? new Date(s * 1000).toISOString().replace('Z', '0000Z') : 'unknown');

function checkTimes(payload, now) {
  const { exp, nbf } = payload;
  if (typeof exp !== 'number' || now > exp + SKEW || (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + SKEW))) {
    throw new EntraError(401, 'invalid_client', 700024, `Client assertion is not within its valid time range. Current time: ${iso(now)}, ` +
      `assertion valid from ${iso(typeof nbf === 'number' ? nbf : 0)}, expiry time of assertion ${iso(exp)}. ` +
      'Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .');
  }
}

// certificateAssertion: a JWT the app signed with its certificate's key.
function certificateAssertion(ctx, d, clientId, tenantInPath) {
  const cfg = ctx.cfg, h = d.header, now = Math.floor(Date.now() / 1000);
  ctx.kind = 'client_assertion';
  const given = h['x5t#S256'] || h.x5t || '';
  const cert = cfg.clientCert;
  const match = cert && ((h['x5t#S256'] && h['x5t#S256'] === cert.x5tS256) || (!h['x5t#S256'] && h.x5t && h.x5t === cert.x5t));
  if (!match) {
    throw new EntraError(401, 'invalid_client', 700027, 'The certificate with identifier used to sign the client assertion is not registered ' +
      `on application. [Reason - The key was not found., Thumbprint of key used by client: '${String(given).slice(0, 100)}', ` +
      `Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${clientId}'.]`);
  }
  if (h.x5c !== undefined) {
    const first = Array.isArray(h.x5c) && typeof h.x5c[0] === 'string' ? Buffer.from(h.x5c[0], 'base64') : null;
    if (!first || !first.equals(cert.der)) {
      throw new EntraError(401, 'invalid_client', 700027, 'Client assertion failed signature validation. (x5c does not hold the registered certificate)');
    }
  }
  if (!jwt.verify(d, cert.publicKey)) {
    throw new EntraError(401, 'invalid_client', 700027, `Client assertion failed signature validation. (alg ${String(h.alg).slice(0, 20)})`);
  }
  if (d.payload.sub !== clientId) {
    throw new EntraError(401, 'invalid_client', 700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
  }
  const auds = new Set();
  for (const t of [tenantInPath, cfg.tenant]) {
    for (const p of ['oauth2/v2.0/token', 'oauth2/token', 'v2.0', '']) auds.add(`${ctx.base}/${t}/${p}`.replace(/\/+$/, '').toLowerCase());
  }
  const aud = Array.isArray(d.payload.aud) ? d.payload.aud : [d.payload.aud];
  if (!aud.some((a) => typeof a === 'string' && auds.has(a.replace(/\/+$/, '').toLowerCase()))) {
    throw new EntraError(401, 'invalid_client', 50012, `Client assertion audience claim does not match Realm issuer. Audience: '${String(d.payload.aud).slice(0, 200)}'.`);
  }
  checkTimes(d.payload, now);
}

// federatedAssertion: a token from a trusted issuer (workload identity),
// matched against the one federated identity credential the double holds.
function federatedAssertion(ctx, d) {
  const fed = ctx.cfg.federated, p = d.payload, now = Math.floor(Date.now() / 1000);
  ctx.kind = 'federated';
  const q = (s) => String(s).slice(0, 300);
  if (!fed || p.iss !== fed.issuer) {
    throw new EntraError(401, 'invalid_client', 700211, `No matching federated identity record found for presented assertion issuer '${q(p.iss)}'. ` +
      'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ' +
      'https://learn.microsoft.com/entra/workload-id/workload-identity-federation');
  }
  const aud = Array.isArray(p.aud) ? p.aud : [p.aud];
  if (!aud.includes(EXCHANGE_AUDIENCE)) {
    throw new EntraError(401, 'invalid_client', 700212, `No matching federated identity record found for presented assertion audience '${q(p.aud)}'. ` +
      'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ' +
      'https://learn.microsoft.com/entra/workload-id/workload-identity-federation');
  }
  if (p.sub !== fed.subject) {
    throw new EntraError(401, 'invalid_client', 700213, `No matching federated identity record found for presented assertion subject '${q(p.sub)}'. ` +
      'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ' +
      'https://learn.microsoft.com/entra/workload-id/workload-identity-federation');
  }
  const candidates = fed.keys.filter((k) => !k.kid || !d.header.kid || k.kid === d.header.kid);
  if (!candidates.some((k) => jwt.verify(d, k.key))) {
    throw new EntraError(401, 'invalid_client', 700027, 'Client assertion failed signature validation.');
  }
  checkTimes(p, now);
}

function authenticate(ctx, c, tenantInPath) {
  const cfg = ctx.cfg;
  if (c.secret !== undefined && c.assertion !== undefined) {
    throw new EntraError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid.');
  }
  if (c.secret !== undefined) {
    ctx.kind = 'client_secret';
    if (!eq(c.secret, cfg.secret)) {
      throw new EntraError(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is ' +
        `the client secret value, not the client secret ID, for a secret added to app '${cfg.clientId}'.`);
    }
    return '1';
  }
  if (c.assertion === undefined) {
    throw new EntraError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.");
  }
  if (c.assertionType !== JWT_BEARER) {
    if (c.assertionType === undefined) throw missing('client_assertion_type');
    throw new EntraError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid. (client_assertion_type)');
  }
  const d = jwt.decode(c.assertion);
  if (!d) throw new EntraError(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.');
  // Entra tells the two apart by the issuer: the app itself, or a trusted one.
  if (d.payload.iss === cfg.clientId) certificateAssertion(ctx, d, cfg.clientId, tenantInPath);
  else federatedAssertion(ctx, d);
  return '2';
}

async function token(ctx, tenant, v2) {
  const cfg = ctx.cfg;
  ctx.kind = 'token';
  if (ctx.req.method !== 'POST') {
    throw new EntraError(400, 'invalid_request', 900561, `The endpoint only accepts POST, OPTIONS requests. Received a ${ctx.req.method} request.`);
  }
  const text = await readBody(ctx.req, MAX_FORM);
  if (text === null) throw new EntraError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid. (body too large)');
  const form = parseForm(text);
  if (!tenantKnown(cfg, tenant)) throw unknownTenant(tenant);
  const grant = form.get('grant_type');
  if (!grant) throw missing('grant_type');
  ctx.kind = grant;
  if (grant !== 'client_credentials') {
    throw new EntraError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grant.slice(0, 100)}'.`);
  }
  const c = clientCredentials(ctx, form);
  if (!c.clientId) throw missing('client_id');
  ctx.client = c.clientId.slice(0, 64);
  if (c.clientId !== cfg.clientId) {
    throw new EntraError(400, 'unauthorized_client', 700016, `Application with identifier '${c.clientId.slice(0, 100)}' was not found in the ` +
      `directory '${cfg.tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented ` +
      'to by any user in the tenant. You may have sent your authentication request to the wrong tenant.');
  }
  const resource = resourceOf(form, v2);
  const appidacr = authenticate(ctx, c, tenant);
  const t = mint(cfg, { resource, appid: cfg.clientId, oid: uuidFor('sp', cfg.tenant, cfg.clientId), appidacr });
  const life = t.exp - t.iat;
  ctx.outcome = 'issued';
  if (v2) {
    send(ctx, 200, { token_type: 'Bearer', expires_in: life, ext_expires_in: life, access_token: t.token });
  } else {
    send(ctx, 200, { token_type: 'Bearer', expires_in: String(life), ext_expires_in: String(life), expires_on: String(t.exp),
      not_before: String(t.iat), resource, access_token: t.token });
  }
}

// route(ctx, segs): handles the request when its path is one of the
// service's, else returns false.
async function route(ctx, segs) {
  const p = segs.join('/');
  const [tenant] = segs;
  if (p === 'common/discovery/instance' && ctx.req.method === 'GET') return instanceDiscovery(ctx), true;
  if (segs.length < 2 || !/^[A-Za-z0-9._-]{1,128}$/.test(tenant)) return false;
  const rest = segs.slice(1).join('/');
  const table = {
    'oauth2/v2.0/token': () => token(ctx, tenant, true),
    'oauth2/token': () => token(ctx, tenant, false),
    'v2.0/.well-known/openid-configuration': () => openidConfiguration(ctx, tenant, true),
    '.well-known/openid-configuration': () => openidConfiguration(ctx, tenant, false),
    'discovery/v2.0/keys': () => keys(ctx, tenant),
    'discovery/keys': () => keys(ctx, tenant),
  };
  if (!table[rest]) return false;
  ctx.kind = rest.includes('token') ? 'token' : 'discovery';
  if (!ctx.secure) {
    throw new EntraError(400, 'invalid_request', 9002313, 'Invalid request. Request is malformed or invalid. (the token service answers https only)');
  }
  await table[rest]();
  return true;
}

module.exports = { route, mint, uuidFor, AUTHORITY_HOSTS };
