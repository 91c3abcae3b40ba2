// Authorization as the File service checks it: Shared Key (the signature of
// a canonical form of the request, HMAC-SHA256 with the account key) and
// shared access signatures (service SAS for a share or a file, account SAS),
// each verified with the key, then its scope, time, protocol, address and
// permissions. Error details say what did not match, never the key.
// The ADLS double (tests/doubles/adls) uses it too, with the Blob service's
// SAS rules (ctx.sasRules) and its OAuth check (ctx.checkBearer).
'use strict';
const crypto = require('crypto');
const { StorageError } = require('./http.js');

const authFailed = (detail) => new StorageError(403, 'AuthenticationFailed',
  'Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.',
  detail ? { AuthenticationErrorDetail: detail } : {});
const mismatch = (code, what) => new StorageError(403, code, `This request is not authorized to perform this operation using this ${what}.`);

const hmac = (key, s) => crypto.createHmac('sha256', key).update(s, 'utf8').digest('base64');
function sameSig(a, b) {
  const x = Buffer.from(a), y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

// Header order: ordinal (Python, Go) or the .NET invariant-culture order the
// JS and .NET SDKs use (hyphens ignored first, symbols before digits before
// letters). Both are accepted; they differ only for unusual metadata names.
function cultureKey(name) {
  let k = '';
  for (const ch of name.replace(/-/g, '')) {
    const c = ch.codePointAt(0);
    const w = /[a-z]/.test(ch) ? 0x3000 + c : /[0-9]/.test(ch) ? 0x2000 + c : c < 0x80 ? 0x1000 + c : 0x4000 + c;
    k += String.fromCodePoint(w);
  }
  return k;
}
function cultureCompare(a, b) {
  const ka = cultureKey(a), kb = cultureKey(b);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

// The candidate strings to sign for Shared Key; the first is the one the
// reference defines and the one reported when none matches.
function sharedKeyStrings(ctx) {
  const h = (n) => ctx.req.headers[n] || '';
  const len = h('content-length') === '0' ? '' : h('content-length');
  const head = [ctx.req.method, h('content-encoding'), h('content-language'), len, h('content-md5'), h('content-type'),
    h('date'), h('if-modified-since'), h('if-match'), h('if-none-match'), h('if-unmodified-since'), h('range')].join('\n') + '\n';
  const names = Object.keys(ctx.req.headers).filter((n) => n.startsWith('x-ms-'));
  const canonHeaders = (cmp) => names.slice().sort(cmp).map((n) => `${n}:${ctx.req.headers[n]}\n`).join('');
  const canonResource = (dropEmpty) => {
    const byName = new Map();
    for (const [k, v] of ctx.queryPairs) {
      if (dropEmpty && v === '') continue;
      const n = k.toLowerCase();
      if (!byName.has(n)) byName.set(n, []);
      byName.get(n).push(v);
    }
    const lines = [...byName.keys()].sort().map((n) => `\n${n}:${byName.get(n).sort().join(',')}`);
    return `/${ctx.account}${ctx.rawPath}${lines.join('')}`;
  };
  const out = new Set();
  for (const cmp of [undefined, cultureCompare]) {
    for (const dropEmpty of [false, true]) out.add(head + canonHeaders(cmp) + canonResource(dropEmpty));
  }
  return [...out];
}

function checkSharedKey(ctx, authz) {
  const m = /^SharedKey ([^:\s]+):(\S+)$/.exec(authz);
  if (!m) {
    if (/^SharedKeyLite /.test(authz) || /^Bearer /i.test(authz)) throw authFailed('The double accepts only SharedKey and SAS authorization.');
    throw new StorageError(400, 'InvalidAuthenticationInfo', 'Authentication information is not given in the correct format. Check the value of Authorization header.');
  }
  if (m[1] !== ctx.account) throw authFailed(`The account being accessed does not match the account in the Authorization header.`);
  const date = ctx.req.headers['x-ms-date'] || ctx.req.headers.date;
  if (!date) throw authFailed('Request date header not specified.');
  const when = Date.parse(date);
  if (Number.isNaN(when)) throw authFailed('The Date header in the request is incorrect.');
  if (Math.abs(Date.now() - when) > 15 * 60e3) throw authFailed(`Request date header too old: '${date}'`);
  const strings = sharedKeyStrings(ctx);
  if (!strings.some((s) => sameSig(hmac(ctx.key, s), m[2]))) {
    throw authFailed(`The MAC signature found in the HTTP request '${m[2]}' is not the same as any computed signature. Server used following string to sign: '${strings[0]}'.`);
  }
  return { kind: 'sharedkey' };
}

// --- SAS ---
function ipToInt(ip) {
  const m = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip || '');
  return m ? ((+m[1] << 24) >>> 0) + (+m[2] << 16) + (+m[3] << 8) + +m[4] : null;
}
function parseSas(q) {
  const g = (n) => (q.has(n) ? q.get(n) : '');
  return { sv: g('sv'), ss: g('ss'), srt: g('srt'), sp: g('sp'), st: g('st'), se: g('se'), sip: g('sip'), spr: g('spr'),
           sr: g('sr'), si: g('si'), sig: g('sig'), ses: g('ses'), sdd: g('sdd'), snapshot: g('snapshot'),
           rscc: g('rscc'), rscd: g('rscd'), rsce: g('rsce'), rscl: g('rscl'), rsct: g('rsct') };
}
function accountStringToSign(sas, account) {
  const fields = [account, sas.sp, sas.ss, sas.srt, sas.st, sas.se, sas.sip, sas.spr, sas.sv];
  if (sas.sv >= '2020-12-06') fields.push(sas.ses);
  return fields.join('\n') + '\n';
}
// The File service's rules for a SAS, per "Create an account SAS" and
// "Create a service SAS" (versions 2015-04-05 and later). Another service
// (the ADLS double's Blob/dfs) passes its own rules as ctx.sasRules:
//   service: the letter an account SAS's ss must hold;
//   checkServiceSas(sas, target): throws when sr does not fit the target;
//   serviceStringToSign(sas, account, target);
//   srtOf(level): the account-SAS resource type of a level.
const FILE_RULES = {
  service: 'f',
  checkServiceSas(sas, target) {
    if (sas.sr !== 's' && sas.sr !== 'f') throw authFailed(`Signed resource '${sas.sr}' is not valid for the File service.`);
    if (!target.share) throw authFailed('A service SAS cannot authorize an account-level operation.');
    if (sas.sr === 'f' && target.level !== 'file') throw mismatch('AuthorizationResourceTypeMismatch', 'resource type');
  },
  serviceStringToSign(sas, account, target) {
    let resource = `/file/${account}/${target.share}`;
    if (sas.sr === 'f') resource += `/${target.rawPath}`;
    return [sas.sp, sas.st, sas.se, resource, sas.si, sas.sip, sas.spr, sas.sv,
            sas.rscc, sas.rscd, sas.rsce, sas.rscl, sas.rsct].join('\n');
  },
  srtOf: (level) => ({ service: 's', share: 'c', directory: 'c', file: 'o' }[level]),
};
// verifySas(ctx, q, target): the verified SAS; target = {share, rawPath, level}
// for the File service, what ctx.sasRules expects for another.
function verifySas(ctx, q, target) {
  const rules = ctx.sasRules || FILE_RULES;
  const sas = parseSas(q);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(sas.sv) || sas.sv < '2015-04-05') throw authFailed('sv is mandatory and must be 2015-04-05 or later.');
  if (sas.si) throw authFailed('Stored access policies (si) are not supported by the double; no policy has that identifier.');
  if (!sas.sp || !sas.se) throw authFailed('sp and se are mandatory.');
  if (sas.sr) {
    rules.checkServiceSas(sas, target);
  } else if (!sas.ss || !sas.srt) {
    throw authFailed('Either sr (service SAS) or ss and srt (account SAS) are mandatory.');
  }
  const stringToSign = sas.sr ? rules.serviceStringToSign(sas, ctx.account, target) : accountStringToSign(sas, ctx.account);
  if (!sameSig(hmac(ctx.key, stringToSign), sas.sig)) {
    throw authFailed(`Signature did not match. String to sign used was ${stringToSign}`);
  }
  const now = Date.now(), start = sas.st ? Date.parse(sas.st) : -Infinity, expiry = Date.parse(sas.se);
  if (Number.isNaN(start) || Number.isNaN(expiry) || now < start || now > expiry) {
    const d = (t) => (Number.isFinite(t) ? new Date(t).toUTCString() : '');
    throw authFailed(`Signature not valid in the specified time frame: Start [${d(start)}] - Expiry [${d(expiry)}] - Current [${d(now)}]`);
  }
  if (sas.spr && !sas.spr.split(',').includes(ctx.secure ? 'https' : 'http')) throw mismatch('AuthorizationProtocolMismatch', 'protocol');
  if (sas.sip) {
    const [lo, hi = lo] = sas.sip.split('-').map(ipToInt);
    const ip = ipToInt(ctx.req.socket.remoteAddress);
    if (ip === null || lo === null || hi === null || ip < lo || ip > hi) {
      throw mismatch('AuthorizationSourceIPMismatch', `source IP ${ctx.req.socket.remoteAddress}`);
    }
  }
  if (!sas.sr) {
    if (!sas.ss.includes(rules.service)) throw mismatch('AuthorizationServiceMismatch', 'service');
    const srt = rules.srtOf(target.level);
    if (!sas.srt.includes(srt)) throw mismatch('AuthorizationResourceTypeMismatch', 'resource type');
  }
  return { kind: 'sas', sas };
}
// allow(auth, perms): a SAS must hold one of the permission letters in perms.
function allow(auth, perms) {
  if (auth.kind !== 'sas') return;
  if (![...perms].some((p) => auth.sas.sp.includes(p))) throw mismatch('AuthorizationPermissionMismatch', 'permission');
}

// authenticate(ctx, target): who may do this; throws the service's error when nobody.
// A service that takes OAuth passes ctx.checkBearer(authz), which returns
// the caller or throws.
function authenticate(ctx, target) {
  const authz = ctx.req.headers.authorization;
  if (authz && ctx.checkBearer && /^Bearer(\s|$)/.test(authz)) return ctx.checkBearer(authz);
  if (authz) return checkSharedKey(ctx, authz);
  if (ctx.query.has('sig')) return verifySas(ctx, ctx.query, target);
  throw new StorageError(401, 'NoAuthenticationInformation',
    'Server failed to authenticate the request. Please refer to the information in the www-authenticate header.', {},
    { 'www-authenticate': 'Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize resource_id=https://storage.azure.com' });
}

module.exports = { authenticate, verifySas, allow, sharedKeyStrings, authFailed, mismatch };
