// JSON Web Tokens as Entra ID reads and writes them: compact JWS with
// RS256 / PS256 / ES256, certificate thumbprints (x5t, x5t#S256), keys from
// PEM (public key, certificate or private key) or from a JWKS.
'use strict';
const crypto = require('crypto');

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const MAX_JWT = 16 * 1024;

// decode(jwt): {header, payload, signingInput, signature} or null when the
// text is not a compact JWS with JSON objects in its first two parts.
function decode(jwt) {
  if (typeof jwt !== 'string' || jwt.length > MAX_JWT) return null;
  const parts = jwt.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || !parts[0] || !parts[1]) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!isObject(header) || !isObject(payload)) return null;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], 'base64url') };
  } catch {
    return null;
  }
}
function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

// verify(decoded, publicKey): true when the signature is good for the
// header's alg; algorithms other than RS256, PS256, ES256 never verify.
function verify(decoded, publicKey) {
  const alg = decoded.header.alg;
  const data = Buffer.from(decoded.signingInput);
  try {
    if (alg === 'RS256') return crypto.verify('sha256', data, publicKey, decoded.signature);
    if (alg === 'PS256') {
      return crypto.verify('sha256', data, { key: publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: crypto.constants.RSA_PSS_SALTLEN_AUTO }, decoded.signature);
    }
    if (alg === 'ES256') return crypto.verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, decoded.signature);
  } catch {
    return false;
  }
  return false;
}

// sign(header, payload, privateKey): an RS256 compact JWS.
function sign(header, payload, privateKey) {
  const input = `${b64url(JSON.stringify({ ...header, alg: 'RS256' }))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(crypto.sign('sha256', Buffer.from(input), privateKey))}`;
}

// loadCert(pemText): {publicKey, der, x5t, x5tS256} for the first certificate in the text.
function loadCert(pemText) {
  const cert = new crypto.X509Certificate(pemText);
  return {
    publicKey: cert.publicKey,
    der: cert.raw,
    x5t: b64url(crypto.createHash('sha1').update(cert.raw).digest()),
    x5tS256: b64url(crypto.createHash('sha256').update(cert.raw).digest()),
  };
}

// loadPublicKeys(pemText): the public keys a PEM names (certificates, public
// or private keys), in order.
function loadPublicKeys(pemText) {
  const blocks = pemText.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) || [];
  return blocks.map((b) => (/CERTIFICATE/.test(b) ? new crypto.X509Certificate(b).publicKey : crypto.createPublicKey(b)));
}

// loadJwks(jsonText): [{kid, key}] for each usable key of a JWKS.
function loadJwks(jsonText) {
  const jwks = JSON.parse(jsonText);
  if (!jwks || !Array.isArray(jwks.keys)) throw new Error('not a JWKS (no "keys" array)');
  return jwks.keys.map((k) => ({ kid: k.kid, key: crypto.createPublicKey({ key: k, format: 'jwk' }) }));
}

// signingKey(privateKeyPem?): the double's own token-signing key: {privateKey, kid, jwk}.
function signingKey(privateKeyPem) {
  const privateKey = privateKeyPem ? crypto.createPrivateKey(privateKeyPem)
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const publicKey = crypto.createPublicKey(privateKey);
  const kid = b64url(crypto.createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest());
  const { n, e } = publicKey.export({ format: 'jwk' });
  return { privateKey, kid, jwk: { kty: 'RSA', use: 'sig', kid, x5t: kid, n, e } };
}

module.exports = { decode, verify, sign, loadCert, loadPublicKeys, loadJwks, signingKey, b64url };
