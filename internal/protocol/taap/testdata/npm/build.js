// Builds PoP tokens with T-Mobile's own builder (npm tmo-poptoken-builder
// 1.0.0) for authgate's interop test. Its package "main" is broken, so the
// Node entry point is required by path; buildPopToken takes a Map.
// stdin: {"key": "<PKCS#8 PEM>", "requests": [[[name, value], ...], ...]}
// stdout: ["<token>", ...]
'use strict';
const builder = require('tmo-poptoken-builder/poptoken-builder-node.js');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const req = JSON.parse(input);
  const out = req.requests.map((parts) => builder.buildPopToken(new Map(parts), req.key));
  process.stdout.write(JSON.stringify(out));
});
