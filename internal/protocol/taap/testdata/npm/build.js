// Builds PoP tokens with T-Mobile's own builder (npm tmo-poptoken-builder
// 1.0.0) for authgate's interop test. Its package "main" is broken, so the
// Node entry point is required by path; buildPopToken takes a Map.
// stdin: {"key": "<PKCS#8 PEM>", "requests": [[[name, value], ...], ...], "v": optional}
// stdout: ["<token>", ...]
// With "v", each token's claim v is set to that value and the token is
// signed again with jsrsasign (the builder's own signing library), the way
// T-Mobile libraries that write another spelling of v sign their tokens.
'use strict';
const builder = require('tmo-poptoken-builder/poptoken-builder-node.js');
const rs = require('jsrsasign');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  const out = req.requests.map((parts) => {
    const tok = builder.buildPopToken(new Map(parts), req.key);
    if (!('v' in req)) {
      return tok;
    }
    const [h, c] = tok.split('.');
    const claims = JSON.parse(rs.b64utoutf8(c));
    claims.v = req.v;
    return rs.KJUR.jws.JWS.sign(null, rs.b64utoutf8(h), JSON.stringify(claims), req.key);
  });
  process.stdout.write(JSON.stringify(out));
});
