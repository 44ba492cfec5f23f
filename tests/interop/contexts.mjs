// What both node harnesses share: Microcred's published documents and the line protocol they serve.
import {readFileSync} from 'node:fs';
import readline from 'node:readline';

// The W3C controlled identifier context, from the copy the award service ships (its provenance is in
// services/award/src/microcred/award/adapters/contexts/SOURCES.md): no npm package carries it.
export const CID_CONTEXT_URL = 'https://www.w3.org/ns/cid/v1';
export const cidContext = JSON.parse(readFileSync(new URL(
  '../../services/award/src/microcred/award/adapters/contexts/cid-v1.jsonld', import.meta.url), 'utf8'));

// <issuer>/keys/<key id> is a key at its own URL, <issuer>#<key id> one inside the issuer's document.
export function controllerOf(verificationMethod) {
  const at = verificationMethod.lastIndexOf('/keys/');
  if(at !== -1 && !/[/#]/.test(verificationMethod.slice(at + 6))) {
    return verificationMethod.slice(0, at);
  }
  return verificationMethod.split('#')[0];
}

// Both harnesses' protocol: one JSON request per stdin line ({"op": ..., ...}), one JSON response per stdout
// line, in order; an unknown op or a failure is answered {"error": ...} and the loop goes on.
export async function serveLines(ops) {
  const lines = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
  for await (const line of lines) {
    if(!line.trim()) {
      continue;
    }
    let response;
    try {
      const request = JSON.parse(line);
      const op = ops[request.op];
      response = op ? await op(request) : {error: `unknown op ${JSON.stringify(request.op)}`};
    } catch(error) {
      response = {error: error.stack || String(error)};
    }
    process.stdout.write(JSON.stringify(response) + '\n');
  }
}
