"""The catalog exchange format (see CATALOG_FORMAT.md) and its validation.

A whole document is read before anything is applied, and every problem is reported with its location
("credentials[3] (key 'x').rubric.criteria[0].levels") so the author can fix the file in one pass.
References use keys, never ids, so a file moves between installations: a credential is named by its
issuer's key and its own key; a stack or pathway step names a credential by its key (a credential of
the same issuer) or by ``issuer-key/credential-key``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from microcred.catalog.domain.model import CredentialDefinition, Slug, step_order_problems
from microcred.runtime.api_types import Text

Key = Slug
#: A credential's key, or ``issuer-key/credential-key``.
CredentialName = Annotated[Text, Field(min_length=1, max_length=161)]
CredentialRef = tuple[str, str]  # (issuer key, credential key)

SECTIONS = ("issuers", "credentials", "stacks", "pathways")


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DocumentIssuer(_Entry):
    key: Key
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    url: HttpUrl | None = None
    email: Annotated[Text, Field(max_length=320)] | None = None
    description: Annotated[Text, Field(max_length=20_000)] = ""
    image_url: HttpUrl | None = None


class DocumentCredential(CredentialDefinition):
    key: Key
    issuer: Key

    def definition(self) -> CredentialDefinition:
        return CredentialDefinition(**{name: getattr(self, name) for name in CredentialDefinition.model_fields})


class DocumentStack(_Entry):
    key: Key
    issuer: Key
    name: Annotated[Text, Field(min_length=1, max_length=300)]
    description: Annotated[Text, Field(max_length=20_000)] = ""
    credentials: tuple[CredentialName, ...] = ()


class DocumentStep(_Entry):
    credential: CredentialName
    prerequisites: tuple[CredentialName, ...] = ()


class DocumentPathway(_Entry):
    key: Key
    issuer: Key
    name: Annotated[Text, Field(min_length=1, max_length=300)]
    description: Annotated[Text, Field(max_length=20_000)] = ""
    steps: tuple[DocumentStep, ...] = Field(min_length=1)


@dataclass
class CatalogDocument:
    issuers: list[DocumentIssuer] = field(default_factory=list)
    credentials: list[DocumentCredential] = field(default_factory=list)
    stacks: list[DocumentStack] = field(default_factory=list)
    pathways: list[DocumentPathway] = field(default_factory=list)
    # Keys of entries that did not parse: already reported, so references to them are not reported again.
    broken_issuers: set[str] = field(default_factory=set)
    broken_credentials: set[CredentialRef] = field(default_factory=set)


@dataclass(frozen=True)
class Problem:
    location: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "message": self.message}


def resolve(ref: str, owner_issuer: str) -> CredentialRef:
    issuer, _, key = ref.rpartition("/")
    return (issuer or owner_issuer, key)


def _entry_label(section: str, index: int, raw: Any) -> str:
    key = raw.get("key") if isinstance(raw, dict) else None
    return f"{section}[{index}]" + (f" (key {key!r})" if isinstance(key, str) else "")


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _message(error: Any) -> str:
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


_MODELS: dict[str, type[BaseModel]] = {
    "issuers": DocumentIssuer,
    "credentials": DocumentCredential,
    "stacks": DocumentStack,
    "pathways": DocumentPathway,
}


def read_document(raw: Any) -> tuple[CatalogDocument, list[Problem]]:
    """Parse every entry; entries that do not parse are left out of the document and reported."""
    document = CatalogDocument()
    if not isinstance(raw, dict):
        return document, [Problem("(document)", "a catalog document is a JSON object")]
    problems: list[Problem] = []
    for name in raw:
        if name not in SECTIONS and not str(name).startswith("_"):
            problems.append(Problem(str(name), f"unknown section; expected {', '.join(SECTIONS)} "
                                               "(names starting with _ are comments)"))
    for section in SECTIONS:
        entries = raw.get(section, [])
        if not isinstance(entries, list):
            problems.append(Problem(section, "must be a list"))
            continue
        parsed: list[Any] = getattr(document, section)
        for index, entry in enumerate(entries):
            label = _entry_label(section, index, entry)
            try:
                parsed.append(_MODELS[section].model_validate(entry))
            except ValidationError as exc:
                problems.extend(Problem(label + _path(e["loc"]), _message(e)) for e in exc.errors())
                _remember_broken(document, section, entry)
    return document, problems


def _remember_broken(document: CatalogDocument, section: str, entry: Any) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        return
    if section == "issuers":
        document.broken_issuers.add(entry["key"])
    elif section == "credentials" and isinstance(entry.get("issuer"), str):
        document.broken_credentials.add((entry["issuer"], entry["key"]))


@dataclass(frozen=True)
class KnownCatalog:
    """What the installation already holds, by key: the references a document may lean on."""

    issuers: frozenset[str] = frozenset()
    credentials: frozenset[CredentialRef] = frozenset()
    open_versions: dict[CredentialRef, str] = field(default_factory=dict)  # ref -> "version N (status)"


def reference_problems(document: CatalogDocument, known: KnownCatalog) -> list[Problem]:
    """Duplicate keys and references to issuers or credentials that neither the file nor the catalog has."""
    problems: list[Problem] = []
    issuers = set(known.issuers) | document.broken_issuers
    seen: set[str] = set()
    for index, issuer in enumerate(document.issuers):
        if issuer.key in seen:
            problems.append(Problem(f"issuers[{index}] (key {issuer.key!r}).key", "issuer key appears twice"))
        seen.add(issuer.key)
    issuers |= seen

    credentials = set(known.credentials)
    in_file: set[CredentialRef] = set()
    for index, credential in enumerate(document.credentials):
        label = f"credentials[{index}] (key {credential.key!r})"
        ref = (credential.issuer, credential.key)
        if credential.issuer not in issuers:
            problems.append(Problem(f"{label}.issuer", f"unknown issuer key {credential.issuer!r}"))
        if ref in in_file:
            problems.append(Problem(f"{label}.key", f"credential {credential.key!r} of issuer "
                                                    f"{credential.issuer!r} appears twice"))
        if ref in known.open_versions:
            problems.append(Problem(label, f"the catalog has an open {known.open_versions[ref]} of this "
                                           "credential; finish or continue it before importing a new version"))
        in_file.add(ref)
    credentials |= in_file | document.broken_credentials

    groupings: list[tuple[str, Sequence[DocumentStack | DocumentPathway]]] = [
        ("stacks", document.stacks), ("pathways", document.pathways)
    ]
    for section, entries in groupings:
        grouped: set[tuple[str, str]] = set()
        for index, entry in enumerate(entries):
            label = f"{section}[{index}] (key {entry.key!r})"
            if entry.issuer not in issuers:
                problems.append(Problem(f"{label}.issuer", f"unknown issuer key {entry.issuer!r}"))
            if (entry.issuer, entry.key) in grouped:
                problems.append(Problem(f"{label}.key", f"key {entry.key!r} of issuer {entry.issuer!r} appears twice"))
            grouped.add((entry.issuer, entry.key))
            problems.extend(_grouping_problems(label, entry, credentials))
    return problems


def _grouping_problems(label: str, entry: DocumentStack | DocumentPathway,
                       credentials: set[CredentialRef]) -> list[Problem]:
    def unknown(ref: str) -> str:
        issuer, key = resolve(ref, entry.issuer)
        return f"unknown credential key {key!r} of issuer {issuer!r}"

    problems: list[Problem] = []
    if isinstance(entry, DocumentStack):
        refs = [resolve(ref, entry.issuer) for ref in entry.credentials]
        for position, ref in enumerate(entry.credentials):
            if refs[position] not in credentials:
                problems.append(Problem(f"{label}.credentials[{position}]", unknown(ref)))
        if len(set(refs)) != len(refs):
            problems.append(Problem(f"{label}.credentials", "a stack lists each credential once"))
        return problems
    for number, step in enumerate(entry.steps):
        if resolve(step.credential, entry.issuer) not in credentials:
            problems.append(Problem(f"{label}.steps[{number}].credential", unknown(step.credential)))
    ordered = [
        ("/".join(resolve(step.credential, entry.issuer)),
         ["/".join(resolve(p, entry.issuer)) for p in step.prerequisites])
        for step in entry.steps
    ]
    problems.extend(Problem(f"{label}.steps[{i}]" if i >= 0 else f"{label}.steps", message)
                    for i, message in step_order_problems(ordered))
    return problems
