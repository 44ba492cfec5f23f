// What both node harnesses share about Microcred's published documents.
import {readFileSync} from 'node:fs';

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
