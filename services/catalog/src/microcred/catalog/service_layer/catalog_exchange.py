"""Import and export of a whole catalog in the documented format (services/catalog/CATALOG_FORMAT.md).

Import is all or nothing: the whole document is checked first (its own shape and every reference it
makes, against the file and against the installation), any problem refuses it with every located
problem, and otherwise everything is applied in one unit of work. Re-importing the same file changes
nothing and publishes nothing, so the local stack can import its sample catalog on every start.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel

from microcred.catalog.domain.catalog_document import (
    CatalogDocument,
    CredentialRef,
    KnownCatalog,
    Problem,
    read_document,
    reference_problems,
    resolve,
)
from microcred.catalog.domain.model import (
    Credential,
    Issuer,
    Pathway,
    Stack,
    Step,
    pathway_id_for,
    stack_id_for,
)
from microcred.catalog.service_layer.handlers import (
    actor_of,
    credential_published,
    now,
    pathway_changed,
    stack_changed,
)
from microcred.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from microcred.runtime.auth import Principal
from microcred.runtime.errors import Invalid


class ImportSummary(BaseModel):
    issuers_created: int = 0
    credentials_published: int = 0
    new_versions: int = 0
    unchanged: int = 0
    stacks: int = 0
    pathways: int = 0


async def export_catalog(uow: CatalogUnitOfWork) -> dict[str, Any]:
    """Issuers, the latest published version of each credential, active stacks and pathways.

    Stacks and pathways name only exported credentials (an unpublished or retired credential cannot be
    imported elsewhere), so what this writes always imports into an empty catalog; whatever was left out
    is listed under ``_omitted`` rather than dropped silently.
    """
    async with uow:
        issuers = await uow.issuers.list_all()
        issuer_keys = {i.issuer_id: i.key for i in issuers}
        published = await uow.credentials.all_published()
        refs = {v.credential_id: (issuer_keys[v.issuer_id], v.key) for v in published}

        def ref(credential_id: UUID, owner: UUID) -> str:
            issuer_key, key = refs[credential_id]
            return key if issuer_key == issuer_keys[owner] else f"{issuer_key}/{key}"

        credentials = [
            {"key": v.key, "issuer": issuer_keys[v.issuer_id],
             **v.definition.model_dump(mode="json", exclude_none=True)}
            for v in sorted(published, key=lambda v: (issuer_keys[v.issuer_id], v.key))
        ]
        stacks_found = await uow.stacks.list_all()
        pathways_found = await uow.pathways.list_all()
        omitted = sorted({
            str(c) for c in [*(c for s in stacks_found for c in s.credential_ids),
                             *(c for p in pathways_found for c in p.credential_ids())]
            if c not in refs
        })
        stacks = [
            {"key": s.key, "issuer": issuer_keys[s.issuer_id], "name": s.name, "description": s.description,
             "credentials": [ref(c, s.issuer_id) for c in s.credential_ids if c in refs]}
            for s in stacks_found
        ]
        pathways = []
        for p in pathways_found:
            steps = [
                {"credential": ref(s.credential_id, p.issuer_id),
                 "prerequisites": [ref(c, p.issuer_id) for c in s.prerequisites if c in refs]}
                for s in p.steps
                if s.credential_id in refs
            ]
            if steps:
                pathways.append({"key": p.key, "issuer": issuer_keys[p.issuer_id], "name": p.name,
                                 "description": p.description, "steps": steps})
    return {
        "_exported_at": now().isoformat(),
        "_omitted": {
            "note": "credentials with no published version, left out of stacks and pathways",
            "credential_ids": omitted,
        },
        "issuers": [
            {k: v for k, v in {"key": i.key, "name": i.name, "url": i.url, "email": i.email,
                               "description": i.description, "image_url": i.image_url}.items() if v is not None}
            for i in issuers
        ],
        "credentials": credentials,
        "stacks": stacks,
        "pathways": pathways,
    }


async def import_catalog(raw: Any, principal: Principal, uow: CatalogUnitOfWork) -> ImportSummary:
    actor = actor_of(principal)
    at = now()
    async with uow:
        document, problems = read_document(raw)
        issuers = {i.key: i for i in await uow.issuers.list_all()}
        by_id = {i.issuer_id: i for i in issuers.values()}
        credential_ids: dict[CredentialRef, UUID] = {
            (by_id[issuer_id].key, key): credential_id
            for credential_id, (issuer_id, key) in (await uow.credentials.keys()).items()
        }
        known_by_id = {v: k for k, v in credential_ids.items()}
        open_versions = {
            known_by_id[cid]: f"version {number} ({status})"
            for cid, (number, status) in (await uow.credentials.open_versions()).items()
        }
        known = KnownCatalog(frozenset(issuers), frozenset(credential_ids), open_versions)
        problems += reference_problems(document, known)
        problems += _issuer_name_problems(document, issuers)
        if problems:
            raise Invalid(
                f"the catalog document has {len(problems)} problem(s); nothing was imported",
                code="invalid_catalog",
                details=[p.as_dict() for p in problems],
            )

        summary = ImportSummary()
        for entry in document.issuers:
            if entry.key not in issuers:
                issuer = Issuer(
                    uuid4(), entry.key, entry.name, str(entry.url) if entry.url else None, entry.email,
                    entry.description, str(entry.image_url) if entry.image_url else None,
                )
                await uow.issuers.save(issuer)
                issuers[entry.key] = issuer
                summary.issuers_created += 1

        for item in document.credentials:
            issuer = issuers[item.issuer]
            definition = item.definition()
            existing_id = credential_ids.get((item.issuer, item.key))
            if existing_id is None:
                credential = Credential.draft(uuid4(), issuer.issuer_id, item.key, definition, actor.subject, at,
                                              reason="imported")
                version = credential.latest()
                summary.credentials_published += 1
                credential_ids[(item.issuer, item.key)] = credential.credential_id
            else:
                found = await uow.credentials.get(existing_id, for_update=True)
                assert found is not None  # listed a moment ago in this transaction
                credential = found
                current = credential.latest_published()
                if current is not None and current.definition == definition:
                    summary.unchanged += 1
                    continue
                version = credential.open_new_version(actor.subject, at, definition, reason="imported")
                summary.new_versions += 1
            version.publish_as_imported(actor.subject, at)
            await uow.credentials.save(credential)
            uow.publish(credential_published(version, issuer))

        summary.stacks = await _apply_stacks(document, issuers, credential_ids, uow)
        summary.pathways = await _apply_pathways(document, issuers, credential_ids, uow)
        await uow.commit()
    return summary


def _issuer_name_problems(document: CatalogDocument, issuers: dict[str, Issuer]) -> list[Problem]:
    """Issuer names are unique too: a new key must not bring a name the catalog already has."""
    names = {i.name: i.key for i in issuers.values()}
    problems = []
    for index, entry in enumerate(document.issuers):
        if entry.key not in issuers and entry.name in names and names[entry.name] != entry.key:
            problems.append(Problem(
                f"issuers[{index}] (key {entry.key!r}).name",
                f"an issuer named {entry.name!r} already exists with key {names[entry.name]!r}",
            ))
        names.setdefault(entry.name, entry.key)
    return problems


async def _apply_stacks(document: CatalogDocument, issuers: dict[str, Issuer],
                        credential_ids: dict[CredentialRef, UUID], uow: CatalogUnitOfWork) -> int:
    changed = 0
    for entry in document.stacks:
        issuer = issuers[entry.issuer]
        ids = [credential_ids[resolve(ref, entry.issuer)] for ref in entry.credentials]
        stack = await uow.stacks.by_key(issuer.issuer_id, entry.key)
        if stack is None:
            stack = Stack(stack_id_for(issuer.key, entry.key), issuer.issuer_id, entry.key, entry.name,
                          entry.description, tuple(ids))
        elif not stack.revise(entry.name, entry.description, ids):
            continue
        await uow.stacks.save(stack)
        uow.publish(stack_changed(stack))
        changed += 1
    return changed


async def _apply_pathways(document: CatalogDocument, issuers: dict[str, Issuer],
                          credential_ids: dict[CredentialRef, UUID], uow: CatalogUnitOfWork) -> int:
    changed = 0
    for entry in document.pathways:
        issuer = issuers[entry.issuer]
        steps = tuple(
            Step(credential_ids[resolve(s.credential, entry.issuer)],
                 tuple(credential_ids[resolve(p, entry.issuer)] for p in s.prerequisites))
            for s in entry.steps
        )
        pathway = await uow.pathways.by_key(issuer.issuer_id, entry.key)
        if pathway is None:
            pathway = Pathway(pathway_id_for(issuer.key, entry.key), issuer.issuer_id, entry.key, entry.name,
                              entry.description, steps)
        elif not pathway.revise(entry.name, entry.description, steps):
            continue
        await uow.pathways.save(pathway)
        uow.publish(pathway_changed(pathway))
        changed += 1
    return changed
