// OAuth for the ADLS double: "Authorization: Bearer <JWT>" checked as
// Azurite's --oauth basic does (no signature check: the double trusts any
// issuer's key), with the real service's status and codes for a token that
// fails: 401 InvalidAuthenticationInfo, the reason in AuthenticationErrorDetail
// and a WWW-Authenticate challenge. Bearer over plain http: 403
// AuthenticationFailed, as Azurite (Azure takes tokens over https only).
// Checked: a JWT of three base64url parts with JSON header and claims; exp
// (required) and nbf (when present) against now, no clock skew; iss one of
// Entra ID's forms for a tenant (v1 sts.*, v2 login.*/{tenant}/v2.0, public
// and sovereign clouds), and when --oauth-tenant was given, one of those
// tenants; aud (a string or a list) one of Azure Storage's audiences. No
// role check: a valid token may do everything, as in Azurite.
'use strict';
const { StorageError } = require('../azure-files-lib/http.js');
const { authFailed } = require('../azure-files-lib/auth.js');

const TENANT = '([A-Za-z0-9][A-Za-z0-9.-]{0,99})';
const ISSUERS = [
  new RegExp(`^https://sts\\.(?:windows\\.net|chinacloudapi\\.cn|microsoftonline\\.de|windows-ppe\\.net)/${TENANT}/$`),
  new RegExp(`^https://login\\.(?:microsoftonline\\.com|microsoftonline\\.us|chinacloudapi\\.cn|partner\\.microsoftonline\\.cn|microsoftonline\\.de)/${TENANT}/v2\\.0$`),
];
const STORAGE_SUFFIX = '(?:core\\.windows\\.net|core\\.chinacloudapi\\.cn|core\\.usgovcloudapi\\.net|core\\.cloudapi\\.de)';
function audienceOk(aud, account) {
  if (aud === 'https://storage.azure.com' || aud === 'https://storage.azure.com/' || aud === 'e406a681-f3d4-42a8-90b6-c2b029497af1') return true;
  const m = new RegExp(`^https://([a-z0-9]+)\\.(?:blob|dfs)\\.${STORAGE_SUFFIX}/?$`).exec(aud);
  return Boolean(m && m[1] === account);
}

function invalid(detail, tenant) {
  return new StorageError(401, 'InvalidAuthenticationInfo',
    'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.',
    { AuthenticationErrorDetail: detail },
    { 'www-authenticate': `Bearer authorization_uri=https://login.microsoftonline.com/${tenant || 'common'}/oauth2/authorize resource_id=https://storage.azure.com` });
}
function decodePart(part) {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) return null;
  try {
    const v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch { return null; }
}

// checkBearer(ctx, authz, tenants): the caller {kind: 'bearer', tenant, oid}, or throws.
function checkBearer(ctx, authz, tenants) {
  if (!ctx.secure) throw authFailed('Authentication scheme Bearer is not allowed with HTTP.');
  const token = authz.slice('Bearer'.length).trim();
  const parts = token.split('.');
  const header = parts.length === 3 ? decodePart(parts[0]) : null;
  const claims = header ? decodePart(parts[1]) : null;
  if (!claims || typeof header.alg !== 'string') throw invalid('The token is not a well-formed JWT.');
  const iss = typeof claims.iss === 'string' ? claims.iss : '';
  const m = ISSUERS.map((re) => re.exec(iss)).find(Boolean);
  const tenant = m ? m[1] : null;
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number') throw invalid('Lifetime validation failed. The token is missing an Expiration Time.', tenant);
  if (typeof claims.nbf === 'number' && now < claims.nbf) throw invalid('Lifetime validation failed. The token is not yet valid.', tenant);
  if (now > claims.exp) throw invalid('Lifetime validation failed. The token is expired.', tenant);
  if (!tenant || (tenants.length && !tenants.includes(tenant))) throw invalid('Issuer validation failed. Issuer did not match.', tenant);
  const auds = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!auds.some((a) => typeof a === 'string' && audienceOk(a, ctx.account))) {
    throw invalid('Audience validation failed. Audience did not match.', tenant);
  }
  return { kind: 'bearer', tenant, oid: typeof claims.oid === 'string' ? claims.oid : null };
}

module.exports = { checkBearer };
