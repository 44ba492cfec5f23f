"""Catalog use cases. Each takes a command and a unit of work, checks who may act, and commits once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from pydantic import ConfigDict, Field, HttpUrl

from microcred.catalog.domain.model import (
    Actor,
    ApprovalChecks,
    Authority,
    Credential,
    CredentialDefinition,
    CredentialVersion,
    Issuer,
    Pathway,
    Slug,
    Stack,
    StaffRole,
    Step,
    Transition,
    pathway_id_for,
    slugify,
    stack_id_for,
)
from microcred.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from microcred.events import (
    CredentialPublished,
    CredentialRetired,
    IntegrationEvent,
    PathwayChanged,
    PathwayStep,
    StackChanged,
)
from microcred.runtime.api_types import RequestModel, Text
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Conflict, Forbidden, Invalid, NotFound

UowFactory = Callable[[], CatalogUnitOfWork]


def now() -> datetime:
    return datetime.now(UTC)


def actor_of(principal: Principal) -> Actor:
    return Actor(
        subject=principal.subject,
        operator=principal.has(Role.OPERATOR),
        issuer_admin=principal.has(Role.ISSUER_ADMIN),
        organization=principal.organization,
    )


# ---------------------------------------------------------------------------------------------------
# Commands


class CreateIssuer(RequestModel):
    key: Slug | None = None
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    url: HttpUrl | None = None
    email: Annotated[Text, Field(max_length=320)] | None = None
    description: Annotated[Text, Field(max_length=20_000)] = ""
    image_url: HttpUrl | None = None


class UpdateIssuer(RequestModel):
    """Only the fields present change; ``key`` never does (documents and other systems refer to it)."""

    name: Annotated[Text, Field(min_length=1, max_length=200)] | None = None
    url: HttpUrl | None = None
    email: Annotated[Text, Field(max_length=320)] | None = None
    description: Annotated[Text, Field(max_length=20_000)] | None = None
    image_url: HttpUrl | None = None


class AddStaff(RequestModel):
    subject: Annotated[Text, Field(min_length=1, max_length=200)]
    role: Literal["admin", "editor"]


class DefinitionBody(CredentialDefinition):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def definition(self) -> CredentialDefinition:
        return CredentialDefinition(**{name: getattr(self, name) for name in CredentialDefinition.model_fields})


class DraftCredential(DefinitionBody):
    issuer_id: UUID
    key: Slug | None = None


class SubmitForReview(RequestModel):
    note: Annotated[Text, Field(max_length=2000)] | None = None


class RequestChanges(RequestModel):
    reason: Annotated[Text, Field(min_length=1, max_length=2000)]


class Checks(RequestModel):
    research_base: bool
    evidence_requirements: bool
    rubric: bool


class Approve(RequestModel):
    checks: Checks
    note: Annotated[Text, Field(max_length=2000)] | None = None


class Retire(RequestModel):
    reason: Annotated[Text, Field(min_length=1, max_length=2000)]


class StackBody(RequestModel):
    name: Annotated[Text, Field(min_length=1, max_length=300)]
    description: Annotated[Text, Field(max_length=20_000)] = ""
    credential_ids: list[UUID] = Field(default=[], max_length=500)


class CreateStack(StackBody):
    issuer_id: UUID
    key: Slug | None = None


class StepBody(RequestModel):
    credential_id: UUID
    prerequisites: list[UUID] = Field(default=[], max_length=500)


class PathwayBody(RequestModel):
    name: Annotated[Text, Field(min_length=1, max_length=300)]
    description: Annotated[Text, Field(max_length=20_000)] = ""
    steps: list[StepBody] = Field(min_length=1, max_length=500)

    def domain_steps(self) -> tuple[Step, ...]:
        return tuple(Step(s.credential_id, tuple(s.prerequisites)) for s in self.steps)


class CreatePathway(PathwayBody):
    issuer_id: UUID
    key: Slug | None = None


# ---------------------------------------------------------------------------------------------------
# Events


def credential_published(version: CredentialVersion, issuer: Issuer) -> CredentialPublished:
    d = version.definition
    return CredentialPublished(
        correlation_id=current_correlation_id(),
        credential_id=version.credential_id,
        version=version.version,
        issuer=issuer.profile(),
        key=version.key,
        **{name: getattr(d, name) for name in CredentialDefinition.model_fields},
    )


def stack_changed(stack: Stack) -> StackChanged:
    return StackChanged(
        correlation_id=current_correlation_id(), stack_id=stack.stack_id, revision=stack.revision,
        issuer_id=stack.issuer_id, name=stack.name, description=stack.description,
        credential_ids=stack.credential_ids, active=stack.active,
    )


def pathway_changed(pathway: Pathway) -> PathwayChanged:
    return PathwayChanged(
        correlation_id=current_correlation_id(), pathway_id=pathway.pathway_id, revision=pathway.revision,
        issuer_id=pathway.issuer_id, name=pathway.name, description=pathway.description,
        steps=tuple(PathwayStep(credential_id=s.credential_id, prerequisites=s.prerequisites) for s in pathway.steps),
        active=pathway.active,
    )


async def free_key(wanted: str | None, name: str, taken: Callable[[str], Awaitable[bool]], what: str) -> str:
    """The given key (refused if taken), or a slug of the name made unique with a number."""
    if wanted is not None:
        if await taken(wanted):
            raise Conflict(f"{what} key {wanted!r} is already taken", code=f"{what}_key_exists")
        return wanted
    base = slugify(name)
    candidate, n = base, 1
    while await taken(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# ---------------------------------------------------------------------------------------------------
# Issuers and staff


async def _issuer(uow: CatalogUnitOfWork, issuer_id: UUID) -> Issuer:
    issuer = await uow.issuers.get(issuer_id)
    if issuer is None:
        raise NotFound(f"issuer {issuer_id} does not exist", code="issuer_not_found")
    return issuer


async def _named_issuer(uow: CatalogUnitOfWork, issuer_id: UUID) -> Issuer:
    """The issuer a request body names. Its absence is the request's fault (422), where an issuer the path
    addresses is a resource that is not there (404)."""
    issuer = await uow.issuers.get(issuer_id)
    if issuer is None:
        raise Invalid(f"issuer {issuer_id} does not exist", code="issuer_not_found")
    return issuer


async def read_issuer(issuer_id: UUID, uow: CatalogUnitOfWork) -> Issuer:
    async with uow:
        await uow.without_transaction()
        return await _issuer(uow, issuer_id)


async def create_issuer(command: CreateIssuer, uow: CatalogUnitOfWork) -> Issuer:
    async with uow:
        if await uow.issuers.taken(name=command.name):
            raise Conflict(f"an issuer named {command.name!r} already exists", code="issuer_exists")
        key = await free_key(command.key, command.name, lambda k: uow.issuers.taken(key=k), "issuer")
        issuer = Issuer(
            issuer_id=uuid4(), key=key, name=command.name, url=str(command.url) if command.url else None,
            email=command.email, description=command.description,
            image_url=str(command.image_url) if command.image_url else None,
        )
        await uow.issuers.save(issuer)
        await uow.commit()
    return issuer


async def update_issuer(issuer_id: UUID, command: UpdateIssuer, principal: Principal, uow: CatalogUnitOfWork) -> Issuer:
    async with uow:
        issuer = await _issuer(uow, issuer_id)
        issuer.require(actor_of(principal), Authority.ADMIN, "change the profile")
        changes = command.model_dump(exclude_unset=True, mode="json")
        if changes.get("name") not in (None, issuer.name) and await uow.issuers.taken(name=changes["name"]):
            raise Conflict(f"an issuer named {changes['name']!r} already exists", code="issuer_exists")
        issuer.name = changes.get("name") or issuer.name
        issuer.description = changes.get("description") or "" if "description" in changes else issuer.description
        for name in ("url", "email", "image_url"):
            if name in changes:
                setattr(issuer, name, changes[name])
        await uow.issuers.save(issuer)
        await uow.commit()
    return issuer


async def add_staff(issuer_id: UUID, command: AddStaff, principal: Principal, uow: CatalogUnitOfWork) -> Issuer:
    async with uow:
        issuer = await _issuer(uow, issuer_id)
        issuer.require(actor_of(principal), Authority.ADMIN, "manage staff")
        issuer.staff[command.subject] = StaffRole(command.role)
        await uow.issuers.save(issuer)
        await uow.commit()
    return issuer


async def remove_staff(issuer_id: UUID, subject: str, principal: Principal, uow: CatalogUnitOfWork) -> None:
    async with uow:
        issuer = await _issuer(uow, issuer_id)
        issuer.require(actor_of(principal), Authority.ADMIN, "manage staff")
        if issuer.staff.pop(subject, None) is None:
            raise NotFound(f"{subject!r} is not on the staff of issuer {issuer.name!r}", code="staff_not_found")
        await uow.issuers.save(issuer)
        await uow.commit()


async def staff_of(issuer_id: UUID, principal: Principal, uow: CatalogUnitOfWork) -> dict[str, StaffRole]:
    async with uow:
        await uow.without_transaction()
        issuer = await _issuer(uow, issuer_id)
        issuer.require(actor_of(principal), Authority.EDITOR, "see the staff")
        return dict(issuer.staff)


# ---------------------------------------------------------------------------------------------------
# Credential versions


async def _load(uow: CatalogUnitOfWork, credential_id: UUID, principal: Principal) -> tuple[Credential, Issuer]:
    """The credential and its issuer; NotFound, as for a missing one, to a caller who may see no version of it
    (another issuer's unpublished credential). One who may see it and may not act gets the issuer's 403."""
    credential = await uow.credentials.get(credential_id, for_update=True)
    if credential is not None:
        issuer = await _issuer(uow, credential.issuer_id)
        if _any_visible(credential, issuer, principal):
            return credential, issuer
    raise NotFound(f"credential {credential_id} does not exist", code="credential_not_found")


def _version(credential: Credential, number: int) -> CredentialVersion:
    version = credential.version(number)
    if version is None:
        raise NotFound(f"credential {credential.credential_id} has no version {number}", code="version_not_found")
    return version


async def draft_credential(command: DraftCredential, principal: Principal, uow: CatalogUnitOfWork) -> CredentialVersion:
    async with uow:
        issuer = await _named_issuer(uow, command.issuer_id)
        actor = actor_of(principal)
        issuer.require(actor, Authority.EDITOR, "draft credentials")
        key = await free_key(
            command.key, command.name, lambda k: uow.credentials.key_taken(issuer.issuer_id, k), "credential"
        )
        credential = Credential.draft(uuid4(), issuer.issuer_id, key, command.definition(), actor.subject, now())
        await uow.credentials.save(credential)
        await uow.commit()
    return credential.latest()


async def edit_version(
    credential_id: UUID, number: int, definition: CredentialDefinition, principal: Principal, uow: CatalogUnitOfWork
) -> CredentialVersion:
    async with uow:
        credential, issuer = await _load(uow, credential_id, principal)
        issuer.require(actor_of(principal), Authority.EDITOR, "edit credentials")
        version = _version(credential, number)
        version.edit(definition)
        await uow.credentials.save(credential)
        await uow.commit()
    return version


async def open_version(credential_id: UUID, principal: Principal, uow: CatalogUnitOfWork) -> CredentialVersion:
    async with uow:
        credential, issuer = await _load(uow, credential_id, principal)
        actor = actor_of(principal)
        issuer.require(actor, Authority.EDITOR, "open new versions")
        version = credential.open_new_version(actor.subject, now())
        await uow.credentials.save(credential)
        await uow.commit()
    return version


#: One workflow step: applies the domain transition (which records who and why) and returns the
#: integration event it causes, if any.
WorkflowStep = Callable[[CredentialVersion, Issuer, str], IntegrationEvent | None]


async def _advance(
    credential_id: UUID, number: int, principal: Principal, uow: CatalogUnitOfWork,
    authority: Authority, purpose: str, step: WorkflowStep,
) -> CredentialVersion:
    """Every workflow step has this shape: load, authorize, transition, save and emit in one transaction."""
    async with uow:
        credential, issuer = await _load(uow, credential_id, principal)
        actor = actor_of(principal)
        issuer.require(actor, authority, purpose)
        version = _version(credential, number)
        event = step(version, issuer, actor.subject)
        await uow.credentials.save(credential)
        if event is not None:
            uow.publish(event)
        await uow.commit()
    return version


async def submit_for_review(
    credential_id: UUID, number: int, command: SubmitForReview, principal: Principal, uow: CatalogUnitOfWork
) -> CredentialVersion:
    def step(version: CredentialVersion, _: Issuer, actor: str) -> None:
        version.submit_for_review(actor, command.note, now())

    return await _advance(credential_id, number, principal, uow, Authority.ADMIN, "submit credentials for review", step)


async def request_changes(
    credential_id: UUID, number: int, command: RequestChanges, principal: Principal, uow: CatalogUnitOfWork
) -> CredentialVersion:
    def step(version: CredentialVersion, _: Issuer, actor: str) -> None:
        version.request_changes(actor, command.reason, now())

    return await _advance(credential_id, number, principal, uow, Authority.OPERATOR, "request changes", step)


async def approve(
    credential_id: UUID, number: int, command: Approve, principal: Principal, uow: CatalogUnitOfWork
) -> CredentialVersion:
    def step(version: CredentialVersion, _: Issuer, actor: str) -> None:
        version.approve(actor, ApprovalChecks(**command.checks.model_dump()), command.note, now())

    return await _advance(credential_id, number, principal, uow, Authority.OPERATOR, "approve credentials", step)


async def publish(credential_id: UUID, number: int, principal: Principal, uow: CatalogUnitOfWork) -> CredentialVersion:
    def step(version: CredentialVersion, issuer: Issuer, actor: str) -> IntegrationEvent:
        version.publish(actor, now())
        return credential_published(version, issuer)

    return await _advance(credential_id, number, principal, uow, Authority.ADMIN, "publish credentials", step)


async def retire(
    credential_id: UUID, number: int, command: Retire, principal: Principal, uow: CatalogUnitOfWork
) -> CredentialVersion:
    def step(version: CredentialVersion, _: Issuer, actor: str) -> IntegrationEvent:
        version.retire(actor, command.reason, now())
        return CredentialRetired(
            correlation_id=current_correlation_id(), credential_id=version.credential_id, version=version.version,
            reason=command.reason,
        )

    return await _advance(credential_id, number, principal, uow, Authority.ADMIN, "retire credentials", step)


def _visible(version: CredentialVersion, authority: Authority) -> bool:
    return authority >= Authority.EDITOR or not version.status.is_open


def _any_visible(credential: Credential, issuer: Issuer, principal: Principal) -> bool:
    authority = issuer.authority_of(actor_of(principal))
    return any(_visible(v, authority) for v in credential.versions)


async def read_version(
    credential_id: UUID, number: int | None, principal: Principal, uow: CatalogUnitOfWork
) -> CredentialVersion:
    """The asked version, or the latest one the caller may see: unpublished versions are for their issuer."""
    async with uow:
        # No lock (unlike _load): the credential's statements each read their own snapshot, as they did at
        # READ COMMITTED inside a transaction; a version drafted between them is simply not shown yet.
        await uow.without_transaction()
        credential = await uow.credentials.get(credential_id)
        if credential is None:
            raise NotFound(f"credential {credential_id} does not exist", code="credential_not_found")
        authority = (await _issuer(uow, credential.issuer_id)).authority_of(actor_of(principal))
        visible = [v for v in credential.versions if _visible(v, authority)]
        if not visible:  # another issuer's draft: answered as a credential that does not exist
            raise NotFound(f"credential {credential_id} does not exist", code="credential_not_found")
        if number is not None:
            visible = [v for v in visible if v.version == number]
        if not visible:
            raise NotFound(
                f"credential {credential_id} has no version {number if number is not None else ''} you may see"
                .replace("  ", " "),
                code="version_not_found",
            )
        return max(visible, key=lambda v: v.version)


async def list_versions(credential_id: UUID, principal: Principal, uow: CatalogUnitOfWork) -> list[CredentialVersion]:
    async with uow:
        await uow.without_transaction()  # as read_version
        credential = await uow.credentials.get(credential_id)
        if credential is None:
            raise NotFound(f"credential {credential_id} does not exist", code="credential_not_found")
        authority = (await _issuer(uow, credential.issuer_id)).authority_of(actor_of(principal))
        visible = sorted((v for v in credential.versions if _visible(v, authority)), key=lambda v: v.version)
        if not visible:
            raise NotFound(f"credential {credential_id} does not exist", code="credential_not_found")
        return visible


async def history(credential_id: UUID, number: int, principal: Principal, uow: CatalogUnitOfWork) -> list[Transition]:
    return list((await read_version(credential_id, number, principal, uow)).transitions)


async def list_issuers(principal: Principal, manageable: bool, uow: CatalogUnitOfWork) -> list[Issuer]:
    """Every issuer, or only those the caller may author for: an authoring page offers those, not all."""
    async with uow:
        await uow.without_transaction()
        issuers = await uow.issuers.list_all()
        if not manageable:
            return issuers
        allowed = await manageable_issuers(principal, uow)
    return issuers if allowed is None else [i for i in issuers if i.issuer_id in allowed]


async def manageable_issuers(principal: Principal, uow: CatalogUnitOfWork) -> set[UUID] | None:
    """Issuers whose unpublished versions the caller may list; None means all (an operator)."""
    actor = actor_of(principal)
    if actor.operator:
        return None
    if not actor.issuer_admin:
        return set()
    issuers = await uow.issuers.managed_by(actor.subject)
    try:
        if actor.organization:
            issuers.add(UUID(actor.organization))
    except ValueError:
        pass  # an ``org`` claim that names no issuer id grants nothing; staff membership still counts
    return issuers


# ---------------------------------------------------------------------------------------------------
# Stacks and pathways


async def _require_credentials(
    uow: CatalogUnitOfWork, ids: list[UUID], principal: Principal, *, gated_by: Issuer | None = None
) -> None:
    """Every id names a credential the caller may see (published or retired, or their own issuer's draft):
    the same refusal for another issuer's draft as for no credential at all, so drafts cannot be probed. A
    422, not a 404: the stack or pathway the path addresses is there, it is the body that names nothing.

    ``gated_by``: the issuer of a pathway whose steps in ``ids`` get prerequisites. Prerequisites bind
    every teacher who starts the credential, so only its own issuer may impose them.
    """
    actor = actor_of(principal)
    missing: list[str] = []
    foreign: list[str] = []
    for credential_id in dict.fromkeys(ids):
        credential = await uow.credentials.get(credential_id)
        authority = Authority.NONE if credential is None else (
            await _issuer(uow, credential.issuer_id)).authority_of(actor)
        if credential is None or not any(_visible(v, authority) for v in credential.versions):
            missing.append(str(credential_id))
        elif gated_by is not None and credential.issuer_id != gated_by.issuer_id:
            foreign.append(str(credential_id))
    if missing:
        raise Invalid(f"no such credentials: {', '.join(missing)}", code="credential_not_found",
                      details={"missing": missing})
    if foreign:
        assert gated_by is not None  # only a gating issuer makes a credential foreign
        raise Forbidden(f"a pathway of {gated_by.name!r} may set prerequisites only for its own credentials, "
                        f"not for {', '.join(foreign)}", code="not_the_issuers_credential",
                        details={"credentials": foreign})


async def _require_steps(uow: CatalogUnitOfWork, issuer: Issuer, steps: tuple[Step, ...], principal: Principal
                         ) -> None:
    await _require_credentials(uow, [s.credential_id for s in steps], principal)
    await _require_credentials(uow, [s.credential_id for s in steps if s.prerequisites], principal, gated_by=issuer)


async def create_stack(command: CreateStack, principal: Principal, uow: CatalogUnitOfWork) -> Stack:
    async with uow:
        issuer = await _named_issuer(uow, command.issuer_id)
        issuer.require(actor_of(principal), Authority.ADMIN, "manage stacks")
        await _require_credentials(uow, command.credential_ids, principal)

        async def taken(key: str) -> bool:
            return await uow.stacks.by_key(issuer.issuer_id, key) is not None

        key = await free_key(command.key, command.name, taken, "stack")
        stack = Stack(stack_id_for(issuer.key, key), issuer.issuer_id, key, command.name, command.description,
                      tuple(command.credential_ids))
        await uow.stacks.save(stack)
        uow.publish(stack_changed(stack))
        await uow.commit()
    return stack


async def _stack(uow: CatalogUnitOfWork, stack_id: UUID, principal: Principal) -> Stack:
    stack = await uow.stacks.get(stack_id, for_update=True)
    # A deleted stack stays as a row (its last revision was announced inactive) but is gone to the API.
    if stack is None or not stack.active:
        raise NotFound(f"stack {stack_id} does not exist", code="stack_not_found")
    (await _issuer(uow, stack.issuer_id)).require(actor_of(principal), Authority.ADMIN, "manage stacks")
    return stack


async def update_stack(stack_id: UUID, command: StackBody, principal: Principal, uow: CatalogUnitOfWork) -> Stack:
    async with uow:
        stack = await _stack(uow, stack_id, principal)
        await _require_credentials(uow, command.credential_ids, principal)
        if stack.revise(command.name, command.description, command.credential_ids):
            await uow.stacks.save(stack)
            uow.publish(stack_changed(stack))
        await uow.commit()
    return stack


async def delete_stack(stack_id: UUID, principal: Principal, uow: CatalogUnitOfWork) -> Stack:
    async with uow:
        stack = await _stack(uow, stack_id, principal)
        if stack.deactivate():
            await uow.stacks.save(stack)
            uow.publish(stack_changed(stack))
        await uow.commit()
    return stack


async def create_pathway(command: CreatePathway, principal: Principal, uow: CatalogUnitOfWork) -> Pathway:
    async with uow:
        issuer = await _named_issuer(uow, command.issuer_id)
        issuer.require(actor_of(principal), Authority.ADMIN, "manage pathways")
        steps = command.domain_steps()
        await _require_steps(uow, issuer, steps, principal)

        async def taken(key: str) -> bool:
            return await uow.pathways.by_key(issuer.issuer_id, key) is not None

        key = await free_key(command.key, command.name, taken, "pathway")
        pathway = Pathway(pathway_id_for(issuer.key, key), issuer.issuer_id, key, command.name, command.description,
                          steps)
        await uow.pathways.save(pathway)
        uow.publish(pathway_changed(pathway))
        await uow.commit()
    return pathway


async def _pathway(uow: CatalogUnitOfWork, pathway_id: UUID, principal: Principal) -> Pathway:
    pathway = await uow.pathways.get(pathway_id, for_update=True)
    if pathway is None or not pathway.active:  # deleted: gone to the API, as for stacks
        raise NotFound(f"pathway {pathway_id} does not exist", code="pathway_not_found")
    (await _issuer(uow, pathway.issuer_id)).require(actor_of(principal), Authority.ADMIN, "manage pathways")
    return pathway


async def update_pathway(pathway_id: UUID, command: PathwayBody, principal: Principal,
                         uow: CatalogUnitOfWork) -> Pathway:
    async with uow:
        pathway = await _pathway(uow, pathway_id, principal)
        steps = command.domain_steps()
        await _require_steps(uow, await _issuer(uow, pathway.issuer_id), steps, principal)
        if pathway.revise(command.name, command.description, steps):
            await uow.pathways.save(pathway)
            uow.publish(pathway_changed(pathway))
        await uow.commit()
    return pathway


async def delete_pathway(pathway_id: UUID, principal: Principal, uow: CatalogUnitOfWork) -> Pathway:
    async with uow:
        pathway = await _pathway(uow, pathway_id, principal)
        if pathway.deactivate():
            await uow.pathways.save(pathway)
            uow.publish(pathway_changed(pathway))
        await uow.commit()
    return pathway

