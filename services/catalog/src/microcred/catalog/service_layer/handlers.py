"""Catalog use cases. Each takes a command and a unit of work, and commits once."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID, uuid4

from pydantic import BaseModel, Field, HttpUrl

from microcred.catalog.adapters.orm import IssuerRow
from microcred.catalog.domain.model import CredentialDefinition, CredentialVersion
from microcred.catalog.service_layer.unit_of_work import CatalogUnitOfWork
from microcred.events import CredentialPublished, IssuerProfile, Resource, Rubric, SubmissionCriteria
from microcred.runtime.auth import Principal, Role
from microcred.runtime.context import current_correlation_id
from microcred.runtime.errors import Conflict, Forbidden, NotFound

UowFactory = Callable[[], CatalogUnitOfWork]


class CreateIssuer(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    url: HttpUrl | None = None
    email: str | None = None
    description: str = ""


class DraftCredential(BaseModel):
    issuer_id: UUID
    name: str = Field(min_length=1, max_length=300)
    description: str = Field(min_length=1)
    competency: str = Field(min_length=1)
    key_method: str = Field(min_length=1)
    method_components: list[str] = Field(min_length=1)
    research: list[Resource] = Field(min_length=1)
    submission_criteria: SubmissionCriteria
    rubric: Rubric
    subjects: list[str] = []
    grade_bands: list[str] = []
    estimated_hours: float | None = Field(default=None, gt=0)


def _may_manage(principal: Principal, issuer_id: UUID) -> bool:
    return principal.has(Role.OPERATOR) or (
        principal.has(Role.ISSUER_ADMIN) and principal.organization == str(issuer_id)
    )


async def create_issuer(command: CreateIssuer, uow: CatalogUnitOfWork) -> UUID:
    async with uow:
        if await uow.issuers.by_name(command.name):
            raise Conflict(f"an issuer named {command.name!r} already exists", code="issuer_exists")
        issuer_id = uuid4()
        await uow.issuers.add(
            IssuerRow(
                issuer_id=issuer_id,
                name=command.name,
                url=str(command.url) if command.url else None,
                email=command.email,
                description=command.description,
            )
        )
        await uow.commit()
    return issuer_id


async def draft_credential(command: DraftCredential, principal: Principal, uow: CatalogUnitOfWork) -> CredentialVersion:
    async with uow:
        if await uow.issuers.get(command.issuer_id) is None:
            raise NotFound(f"issuer {command.issuer_id} does not exist", code="issuer_not_found")
        if not _may_manage(principal, command.issuer_id):
            raise Forbidden("only the issuer's own admins (or an operator) may draft its credentials")
        credential = CredentialVersion(
            credential_id=uuid4(),
            version=1,
            issuer_id=command.issuer_id,
            definition=CredentialDefinition(
                name=command.name,
                description=command.description,
                competency=command.competency,
                key_method=command.key_method,
                method_components=tuple(command.method_components),
                research=tuple(command.research),
                submission_criteria=command.submission_criteria,
                rubric=command.rubric,
                subjects=tuple(command.subjects),
                grade_bands=tuple(command.grade_bands),
                estimated_hours=command.estimated_hours,
            ),
        )
        await uow.credentials.save(credential)
        await uow.commit()
    return credential


async def publish_credential(
    credential_id: UUID, version: int | None, principal: Principal, uow: CatalogUnitOfWork
) -> CredentialVersion:
    async with uow:
        credential = await uow.credentials.get(credential_id, version)
        if credential is None:
            raise NotFound(f"credential {credential_id} does not exist", code="credential_not_found")
        if not _may_manage(principal, credential.issuer_id):
            raise Forbidden("only the issuer's own admins (or an operator) may publish its credentials")
        issuer = await uow.issuers.get(credential.issuer_id)
        assert issuer is not None  # foreign key
        credential.publish()
        await uow.credentials.save(credential)
        d = credential.definition
        uow.publish(
            CredentialPublished(
                correlation_id=current_correlation_id(),
                credential_id=credential.credential_id,
                version=credential.version,
                issuer=IssuerProfile(
                    issuer_id=issuer.issuer_id, name=issuer.name, url=issuer.url, email=issuer.email
                ),
                name=d.name,
                description=d.description,
                competency=d.competency,
                key_method=d.key_method,
                method_components=d.method_components,
                research=d.research,
                submission_criteria=d.submission_criteria,
                rubric=d.rubric,
                subjects=d.subjects,
                grade_bands=d.grade_bands,
                estimated_hours=d.estimated_hours,
            )
        )
        await uow.commit()
    return credential
