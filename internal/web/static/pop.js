// PoP token construction with WebCrypto (RSASSA-PKCS1-v1_5, SHA-256),
// compatible with T-Mobile's builders: header {"alg":"RS256","typ":"JWT"},
// exp = iat + 120, v = "1", ehts = names joined by ";", edts = base64url
// SHA-256 of the values concatenated with no separator.
'use strict';

const PoP = (() => {
  const enc = new TextEncoder();

  function b64url(bytes) {
    let s = '';
    const u = new Uint8Array(bytes);
    for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function b64urlDecode(s) {
    const b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    return new TextDecoder().decode(Uint8Array.from(b, (c) => c.charCodeAt(0)));
  }

  // DER length octets.
  function derLen(n) {
    if (n < 0x80) return [n];
    const out = [];
    while (n > 0) { out.unshift(n & 0xff); n >>= 8; }
    return [0x80 | out.length, ...out];
  }

  // wrapPKCS1 turns an RSAPrivateKey (PKCS#1) into a PrivateKeyInfo
  // (PKCS#8), the only RSA private key form WebCrypto imports:
  // SEQUENCE { INTEGER 0, SEQUENCE { OID rsaEncryption, NULL }, OCTET STRING { pkcs1 } }.
  function wrapPKCS1(pkcs1) {
    const algId = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    const octet = [0x04, ...derLen(pkcs1.length), ...pkcs1];
    const body = [0x02, 0x01, 0x00, ...algId, ...octet];
    return Uint8Array.from([0x30, ...derLen(body.length), ...body]);
  }

  function pemToPKCS8(pem) {
    const m = /-----BEGIN (RSA PRIVATE KEY|PRIVATE KEY)-----([\s\S]*?)-----END \1-----/.exec(pem);
    if (!m) {
      if (/ENCRYPTED PRIVATE KEY/.test(pem)) throw new Error('encrypted private keys are not supported: decrypt it first (openssl pkey)');
      throw new Error('the private key must be PEM: "-----BEGIN PRIVATE KEY-----" (PKCS#8) or "-----BEGIN RSA PRIVATE KEY-----" (PKCS#1)');
    }
    let der;
    try {
      der = Uint8Array.from(atob(m[2].replace(/\s+/g, '')), (c) => c.charCodeAt(0));
    } catch (e) {
      throw new Error('the private key PEM body is not valid base64');
    }
    return m[1] === 'RSA PRIVATE KEY' ? wrapPKCS1(Array.from(der)) : der;
  }

  async function importKey(pem) {
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const der = pemToPKCS8(pem);
    try {
      // Extractable only so the page can show the public half (n, e).
      return await crypto.subtle.importKey('pkcs8', der, alg, true, ['sign']);
    } catch (e) {
      throw new Error('the private key is not an RSA key WebCrypto can import (' + e.message + ')');
    }
  }

  async function publicJWK(key) {
    const j = await crypto.subtle.exportKey('jwk', key);
    return { kty: j.kty, n: j.n, e: j.e, alg: 'RS256', use: 'sig' };
  }

  // build signs parts ([[name, value], ...]) with key and returns the token
  // and what went into it.
  async function build(parts, key, lifetime) {
    const names = parts.map((p) => p[0]);
    const canonical = parts.map((p) => p[1]).join('');
    const edts = b64url(await crypto.subtle.digest('SHA-256', enc.encode(canonical)));
    const iat = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT' };
    const claims = { iat: iat, exp: iat + (lifetime || 120), ehts: names.join(';'), edts: edts, jti: crypto.randomUUID(), v: '1' };
    const input = b64url(enc.encode(JSON.stringify(header))) + '.' + b64url(enc.encode(JSON.stringify(claims)));
    const sig = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, enc.encode(input));
    return { token: input + '.' + b64url(sig), header: header, claims: claims, canonical: canonical };
  }

  function decode(token) {
    const p = token.split('.');
    if (p.length !== 3) throw new Error('not a JWS compact token');
    return { header: JSON.parse(b64urlDecode(p[0])), claims: JSON.parse(b64urlDecode(p[1])) };
  }

  return { importKey: importKey, publicJWK: publicJWK, build: build, decode: decode };
})();
