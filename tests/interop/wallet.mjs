// What a wallet or an employer's off-the-shelf tools do with a Microcred credential, with libraries we
// did not write and no document loader of ours.
// Protocol (as verifier.mjs): one JSON request per stdin line, one JSON response per stdout line, in order.
//   {"op":"dcc","credential":{...},"knownDIDRegistries":[]}
//     -> the result of @digitalcredentials/verifier-core's verifyCredential (minus the credential
//        echoed back), plus "fetched": [{url, from: "network"|"mirror"}] in the order they were asked
//        for, and "diagnostics": what the libraries printed meanwhile
//   {"op":"jwt","token":"ey...","jwksUrl":"http://.../jwks.json"}
//     -> {"jwks": {verified, payload, header} | {verified: false, error},
//         "kid":  the same, with the key fetched from the header's kid instead of the JWKS}
//
// verifyCredential is called exactly as the DCC wallet and verifier site call it: the library's own
// document loader fetches every document it lacks over HTTP(S). It ships no copy of the CID v1
// context, which it needs to frame an issuer's controlled identifier document, so a wallet fetches it
// from w3.org. This machine has no route there; the one thing this file adds is what a caching proxy
// would: that immutable context URL is answered from the copy the award service vendors. Every other
// request (the issuer's key, its controller document, status lists, and 1EdTech's JSON Schema, which
// fails here and only feeds verifier-core's informational schema_check) goes over real HTTP, and is
// listed in `fetched`.
import {CID_CONTEXT_URL, cidContext, serveLines} from './contexts.mjs';

const MIRROR = new Map([[CID_CONTEXT_URL, cidContext]]);
let fetched = [];
const networkFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : (input instanceof URL ? input.href : input.url);
  if(MIRROR.has(url)) {
    fetched.push({url, from: 'mirror'});
    return new Response(JSON.stringify(MIRROR.get(url)),
      {status: 200, headers: {'content-type': 'application/ld+json'}});
  }
  fetched.push({url, from: 'network'});
  return networkFetch(input, init);
};

// The libraries print diagnostics (verifier-core logs its schema fetch failing) with console.log,
// and stdout is this protocol's; they are returned with the response instead.
let diagnostics = [];
console.log = console.error = console.warn = (...args) => {
  diagnostics.push(args.map(a => (a && a.message) || String(a)).join(' '));
};

// Imported after the mirror is in place, so nothing in them can hold the unmirrored fetch.
const {verifyCredential} = await import('@digitalcredentials/verifier-core');
const jose = await import('jose');

function describe(error) {
  return error && (error.message || String(error));
}

async function dcc({credential, knownDIDRegistries = []}) {
  fetched = [];
  diagnostics = [];
  // Without a registry list verifier-core fails outright ("Could not verify credential."): the wallet
  // passes the DCC's list; an issuer in none of them gets registered_issuer valid: false, a warning.
  const result = await verifyCredential({credential, knownDIDRegistries});
  const {credential: _echo, ...rest} = result;
  // Errors carry stack traces and library objects; their name and message are what a wallet shows.
  if(rest.errors) {
    rest.errors = rest.errors.map(e => ({name: e.name, message: e.message}));
  }
  return {...JSON.parse(JSON.stringify(rest)), fetched, diagnostics};
}

async function check(token, key) {
  try {
    const {payload, protectedHeader} = await jose.jwtVerify(token, key, {algorithms: ['EdDSA'], typ: 'JWT'});
    return {verified: true, payload, header: protectedHeader};
  } catch(error) {
    return {verified: false, error: `${error.code || error.name}: ${describe(error)}`};
  }
}

async function jwt({token, jwksUrl}) {
  // As a relying party configured with the issuer's JWKS URL would check it.
  const jwks = await check(token, jose.createRemoteJWKSet(new URL(jwksUrl)));
  // As Open Badges 3.0's verifier steps read it: dereference the header's kid to a JWK.
  let kid;
  try {
    const {kid: url} = jose.decodeProtectedHeader(token);
    const response = await networkFetch(url);
    if(!response.ok) {
      throw new Error(`GET ${url} answered ${response.status}`);
    }
    kid = await check(token, await jose.importJWK(await response.json(), 'EdDSA'));
  } catch(error) {
    kid = {verified: false, error: describe(error)};
  }
  return {jwks, kid};
}

await serveLines({dcc, jwt});
