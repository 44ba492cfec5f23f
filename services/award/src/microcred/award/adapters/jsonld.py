"""Offline JSON-LD document loading for pyld.

Signing and verifying canonicalize JSON-LD, and canonicalization needs every ``@context`` the
document names. Fetching those at run time would make a signature depend on whatever a remote server
returns that day (and lets a document make this service issue requests), so the contexts ship with
the service in ``adapters/contexts/`` and nothing else is ever loaded: an unknown URL is an error
that names the URL, never a network request.

pyld keeps a process-wide cache of resolved contexts keyed only by URL. A loader that can also serve
caller-supplied documents must not share that cache (a test's document for some URL would leak into
every later canonicalization), so each loader owns its own cache and hands pyld a fresh
``ContextResolver`` over it per operation.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from pyld import jsonld  # type: ignore[import-untyped]
from pyld.canon import URDNA2015, permutations  # type: ignore[import-untyped]
from pyld.context_resolver import ContextResolver  # type: ignore[import-untyped]
from pyld.jsonld import LRUCache
from pyld.nquads import RDF_LANGSTRING, XSD_STRING, escape  # type: ignore[import-untyped]

# URL -> file in adapters/contexts/ (provenance of each file is in contexts/SOURCES.md).
SHIPPED_CONTEXTS: dict[str, str] = {
    "https://www.w3.org/ns/credentials/v2": "credentials-v2.jsonld",
    "https://www.w3.org/2018/credentials/v1": "credentials-v1.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": "ob-context-3.0.3.jsonld",
    "https://w3id.org/security/multikey/v1": "multikey-v1.jsonld",
    "https://w3id.org/security/data-integrity/v2": "data-integrity-v2.jsonld",
    "https://www.w3.org/ns/did/v1": "did-v1.jsonld",
    "https://www.w3.org/ns/cid/v1": "cid-v1.jsonld",
    "https://www.w3.org/ns/credentials/status/v1": "vc-bitstring-status-list-v1.jsonld",
    "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json": "ob-extensions.jsonld",
}


class DocumentNotAvailable(LookupError):
    """A JSON-LD document was requested that this service does not ship."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"JSON-LD document {url!r} is not available offline; the award service only loads the contexts "
            f"it ships ({', '.join(sorted(SHIPPED_CONTEXTS))})"
        )
        self.url = url


_shipped: dict[str, Any] | None = None


def shipped_documents() -> dict[str, Any]:
    """The shipped contexts, parsed once per process."""
    global _shipped
    if _shipped is None:
        folder = resources.files("microcred.award.adapters").joinpath("contexts")
        _shipped = {url: json.loads(folder.joinpath(name).read_text("utf-8")) for url, name in SHIPPED_CONTEXTS.items()}
    return _shipped


class OfflineDocumentLoader:
    """A pyld ``documentLoader`` over the shipped contexts plus optional in-memory documents."""

    def __init__(self, extra: Mapping[str, Any] | None = None) -> None:
        self._documents: dict[str, Any] = dict(shipped_documents())
        if extra:
            self._documents.update(extra)
        # Resolved (and, inside them, processed) contexts: what makes repeated canonicalization cheap.
        self._resolved_contexts = LRUCache(maxsize=100)
        # Per-loader memo for derived values (proof-config templates): valid only for these documents.
        self.memo: dict[str, Any] = {}

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        try:
            document = self._documents[url]
        except KeyError:
            raise DocumentNotAvailable(url) from None
        # pyld treats the returned document as its own; a copy keeps the cached one pristine.
        # "static" lets pyld keep the resolved context across operations (in this loader's cache);
        # without a tag it would fetch and re-resolve every context on every call.
        return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(document), "tag": "static"}

    def pyld_options(self) -> dict[str, Any]:
        """Options that make a pyld call use this loader and its private context cache."""
        return {"documentLoader": self, "contextResolver": _ContextResolver(self._resolved_contexts, self)}


class _ContextResolver(ContextResolver):  # type: ignore[misc]
    """pyld's resolver, minus re-serializing every embedded context on every use.

    pyld keys an embedded (type- or property-scoped) context by its canonical JSON, computed each
    time the context applies: for the Open Badges context that is most of the expansion time. The
    embedded contexts here live inside cached context documents, so they are the same objects each
    time; keying by identity (holding the object, so the identity cannot be reused) gives the same
    ``ResolvedContext`` pyld would find, without the serialization.
    """

    def __init__(self, shared_cache: Any, document_loader: Any) -> None:
        super().__init__(shared_cache, document_loader)
        self._by_identity: dict[int, tuple[Any, Any]] = shared_cache.setdefault("__by_identity__", {})

    def resolve(self, active_ctx: Any, context: Any, base: Any, cycles: Any = None) -> Any:
        if isinstance(context, dict) and "@context" not in context:
            hit = self._by_identity.get(id(context))
            if hit is not None and hit[0] is context:
                return hit[1]
            resolved = super().resolve(active_ctx, context, base, cycles)
            if len(self._by_identity) < 10_000:
                self._by_identity[id(context)] = (context, resolved)
            return resolved
        return super().resolve(active_ctx, context, base, cycles)


_default_loader: OfflineDocumentLoader | None = None


def default_loader() -> OfflineDocumentLoader:
    """The process-wide loader over the shipped contexts only."""
    global _default_loader
    if _default_loader is None:
        _default_loader = OfflineDocumentLoader()
    return _default_loader


class _CheapCopy(dict):  # type: ignore[type-arg]
    """A document pyld may deep-copy quickly: JSON values need no memo or type dispatch."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return _copy_json(self)  # type: ignore[no-any-return]


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item) for item in value]
    return value


def _context_key(local_ctx: Any) -> Any:
    if isinstance(local_ctx, str):
        return local_ctx
    if isinstance(local_ctx, list) and all(isinstance(item, str) for item in local_ctx):
        return tuple(local_ctx)
    return None


class _Processor(jsonld.JsonLdProcessor):  # type: ignore[misc]
    """pyld's processor with context processing memoized.

    pyld caches a processed context per active context, but a type-scoped context (which does not
    propagate) is applied to a fresh clone each time, so the cache never hits and the Open Badges
    context's term definitions are rebuilt for every node. Processing is a pure function of the
    active context (never mutated once built, apart from pyld's lazily added ``_uuid``), the local
    context and the flags, so the result is memoized on exactly those. Active contexts and embedded
    local contexts are compared by identity; the memo holds them, so an identity cannot be reused.
    """

    def __init__(self, memo: dict[str, Any]) -> None:
        super().__init__()
        self._contexts: dict[tuple[Any, ...], tuple[Any, Any, Any]] = memo.setdefault("processed-contexts", {})

    def _process_context(
        self,
        active_ctx: Any,
        local_ctx: Any,
        options: Any,
        override_protected: bool = False,
        propagate: bool = True,
        validate_scoped: bool = True,
        cycles: Any = None,
    ) -> Any:
        by_value = _context_key(local_ctx)
        key = (id(active_ctx), by_value if by_value is not None else id(local_ctx), override_protected, propagate,
               validate_scoped, options.get("base"))
        hit = self._contexts.get(key)
        if hit is not None and hit[0] is active_ctx and (by_value is not None or hit[1] is local_ctx):
            return hit[2]
        result = super()._process_context(
            active_ctx, local_ctx, options, override_protected, propagate, validate_scoped, cycles
        )
        if len(self._contexts) >= 20_000:  # documents with inline contexts must not grow this forever
            self._contexts.clear()
        self._contexts[key] = (active_ctx, local_ctx, result)
        return result


# --- canonicalization -------------------------------------------------------------------------------
def canonize(document: Mapping[str, Any], *, loader: OfflineDocumentLoader | None = None, fast: bool = True) -> str:
    """RDFC-1.0 (URDNA2015) canonical N-Quads of a JSON-LD document, byte-identical to ``pyld.jsonld.normalize``.

    pyld turns the document into an RDF dataset (the contexts come processed from the loader's cache).
    RDFC-1.0 itself runs in ``_canonize_fast`` (pyld's algorithm over pre-serialized quads); datasets
    with named graphs go to pyld's own implementation. ``fast=False`` forces pyld throughout, for
    tests and for comparing.
    """
    loader = loader or default_loader()
    options = loader.pyld_options()
    if not fast:
        return str(jsonld.normalize(document, {**options, "algorithm": "URDNA2015", "format": "application/n-quads"}))
    dataset = _Processor(loader.memo).to_rdf(_CheapCopy(document), options)
    result = _canonize_fast(dataset)
    if result is None:
        result = URDNA2015().main(dataset, {"format": "application/n-quads"})
    return str(result)


def _term(component: Mapping[str, Any]) -> str:
    kind = component["type"]
    if kind == "IRI":
        return "<" + component["value"] + ">"
    if kind == "blank node":
        return str(component["value"])
    text = '"' + escape(component["value"]) + '"'
    datatype = component["datatype"]
    if datatype == RDF_LANGSTRING:
        return text + "@" + component["language"] if component.get("language") else text
    return text if datatype == XSD_STRING else text + "^^<" + datatype + ">"


# pyld resolves relative IRIs (undefined types, relative ids) against this placeholder base; JSON-LD
# "safe mode" verifiers such as Digital Bazaar's refuse them, so signing one would give a credential
# nobody else can verify.
_RELATIVE_MARK = "<" + jsonld.DEFAULT_BASE_IRI


class RelativeIriError(ValueError):
    """The document has an IRI its contexts do not make absolute."""


class _Issuer:
    """RDFC-1.0's identifier issuer, cheap to copy (the n-degree step copies one per permutation)."""

    __slots__ = ("issued", "prefix")

    def __init__(self, prefix: str, issued: dict[str, str] | None = None) -> None:
        self.prefix = prefix
        self.issued: dict[str, str] = issued if issued is not None else {}

    def get(self, node: str) -> str:
        issued = self.issued.get(node)
        if issued is None:
            issued = self.issued[node] = f"{self.prefix}{len(self.issued)}"
        return issued

    def copy(self) -> _Issuer:
        return _Issuer(self.prefix, dict(self.issued))  # dicts keep insertion order = issue order


Row = tuple[str, bool, str, str, bool]


def _canonize_fast(dataset: Mapping[str, list[dict[str, Any]]]) -> str | None:
    """RDFC-1.0 over pre-serialized quads, following pyld's ``URDNA2015`` step for step.

    Each quad is serialized once into (subject, " <predicate> ", object) with blank nodes kept apart,
    so hashing writes _:a/_:z/_:c14nN by concatenation instead of copying and re-serializing quads.
    Terms are written exactly as pyld's ``serialize_nquad`` writes them. Returns None (leaving
    ``dataset`` untouched) for datasets with named graphs, which go to pyld.
    """
    if any(name != "@default" for name in dataset):
        return None
    rows: list[Row] = []
    touching: dict[str, list[Row]] = {}
    for quad in dataset.get("@default", ()):
        subject, obj, predicate = quad["subject"], quad["object"], quad["predicate"]
        if predicate["type"] != "IRI":
            return None
        s_blank, o_blank = subject["type"] == "blank node", obj["type"] == "blank node"
        row = (subject["value"] if s_blank else _term(subject), s_blank, " <" + predicate["value"] + "> ",
               obj["value"] if o_blank else _term(obj), o_blank)
        if _RELATIVE_MARK in row[0] or _RELATIVE_MARK in row[3] or _RELATIVE_MARK in row[2]:
            raise RelativeIriError(
                f"the document uses a term or type its contexts do not define ({row[0]}{row[2]}{row[3]}); "
                "pyld would resolve it against a placeholder base and Digital Bazaar's safe mode rejects it"
            )
        rows.append(row)
        # Like pyld, a quad is listed once per blank-node component (twice when it points at itself).
        if s_blank:
            touching.setdefault(row[0], []).append(row)
        if o_blank:
            touching.setdefault(row[3], []).append(row)

    first_degree: dict[str, str] = {}
    for node, quads in touching.items():
        lines = sorted(
            ("_:a" if s == node else "_:z" if s_blank else s) + middle + ("_:a" if o == node else "_:z" if o_blank else o)
            + " .\n"
            for s, s_blank, middle, o, o_blank in quads
        )
        first_degree[node] = hashlib.sha256("".join(lines).encode()).hexdigest()

    canonical = _Issuer("_:c14n")
    by_hash: dict[str, list[str]] = {}
    for node, digest in first_degree.items():
        by_hash.setdefault(digest, []).append(node)
    for _digest, nodes in sorted(by_hash.items()):
        if len(nodes) == 1:
            canonical.get(nodes[0])

    def related_hash(related: str, predicate: str, issuer: _Issuer, position: str) -> str:
        identifier = canonical.issued.get(related) or issuer.issued.get(related) or first_degree[related]
        return hashlib.sha256((position + (predicate if position != "g" else "") + identifier).encode()).hexdigest()

    def hash_n_degree(node: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        to_related: dict[str, list[str]] = {}
        for s, s_blank, middle, o, o_blank in touching[node]:
            predicate = middle[1:-1]
            if s_blank and s != node:
                to_related.setdefault(related_hash(s, predicate, issuer, "s"), []).append(s)
            if o_blank and o != node:
                to_related.setdefault(related_hash(o, predicate, issuer, "o"), []).append(o)
        digest = hashlib.sha256()
        for related_digest, related_nodes in sorted(to_related.items()):
            digest.update(related_digest.encode())
            chosen_path, chosen_issuer = "", None
            for permutation in permutations(related_nodes):
                issuer_copy = issuer.copy()
                path = ""
                recursion: list[str] = []
                skip = False
                for related in permutation:
                    if related in canonical.issued:
                        path += canonical.issued[related]
                    else:
                        if related not in issuer_copy.issued:
                            recursion.append(related)
                        path += issuer_copy.get(related)
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                for related in recursion:
                    result_hash, result_issuer = hash_n_degree(related, issuer_copy)
                    path += issuer_copy.get(related) + "<" + result_hash + ">"
                    issuer_copy = result_issuer
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                if not chosen_path or path < chosen_path:
                    chosen_path, chosen_issuer = path, issuer_copy
            digest.update(chosen_path.encode())
            assert chosen_issuer is not None
            issuer = chosen_issuer
        return digest.hexdigest(), issuer

    for _digest, nodes in sorted(by_hash.items()):
        if len(nodes) == 1:
            continue
        results = []
        for node in nodes:
            if node in canonical.issued:
                continue
            temporary = _Issuer("_:b")
            temporary.get(node)
            results.append(hash_n_degree(node, temporary))
        for _result_hash, result_issuer in sorted(results, key=lambda result: result[0]):
            for existing in result_issuer.issued:
                canonical.get(existing)

    names = canonical.issued
    output = sorted(
        (names[s] if s_blank else s) + middle + (names[o] if o_blank else o) + " .\n"
        for s, s_blank, middle, o, o_blank in rows
    )
    return "".join(output)
