"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from microcred.catalog.adapters.orm import CredentialVersionRow, IssuerRow
from microcred.catalog.domain.model import CredentialDefinition, CredentialVersion, VersionStatus
from microcred.events import Resource, Rubric, SubmissionCriteria


def _definition_to_json(definition: CredentialDefinition) -> dict[str, object]:
    return {
        "name": definition.name,
        "description": definition.description,
        "competency": definition.competency,
        "key_method": definition.key_method,
        "method_components": list(definition.method_components),
        "research": [r.model_dump(mode="json") for r in definition.research],
        "submission_criteria": definition.submission_criteria.model_dump(mode="json"),
        "rubric": definition.rubric.model_dump(mode="json"),
        "subjects": list(definition.subjects),
        "grade_bands": list(definition.grade_bands),
        "estimated_hours": definition.estimated_hours,
    }


def _definition_from_json(data: dict[str, object]) -> CredentialDefinition:
    return CredentialDefinition(
        name=str(data["name"]),
        description=str(data["description"]),
        competency=str(data["competency"]),
        key_method=str(data["key_method"]),
        method_components=tuple(data["method_components"]),  # type: ignore[arg-type]
        research=tuple(Resource.model_validate(r) for r in data["research"]),  # type: ignore[attr-defined]
        submission_criteria=SubmissionCriteria.model_validate(data["submission_criteria"]),
        rubric=Rubric.model_validate(data["rubric"]),
        subjects=tuple(data.get("subjects") or ()),  # type: ignore[arg-type]
        grade_bands=tuple(data.get("grade_bands") or ()),  # type: ignore[arg-type]
        estimated_hours=data.get("estimated_hours"),  # type: ignore[arg-type]
    )


class IssuerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, issuer_id: UUID) -> IssuerRow | None:
        return await self.session.get(IssuerRow, issuer_id)

    async def by_name(self, name: str) -> IssuerRow | None:
        return await self.session.scalar(sa.select(IssuerRow).where(IssuerRow.name == name))

    async def add(self, row: IssuerRow) -> None:
        self.session.add(row)

    async def list(self) -> list[IssuerRow]:
        return list(await self.session.scalars(sa.select(IssuerRow).order_by(IssuerRow.name)))


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, credential_id: UUID, version: int | None = None) -> CredentialVersion | None:
        query = sa.select(CredentialVersionRow).where(CredentialVersionRow.credential_id == credential_id)
        if version is not None:
            query = query.where(CredentialVersionRow.version == version)
        row = await self.session.scalar(
            query.order_by(CredentialVersionRow.version.desc()).limit(1).with_for_update()
        )
        return None if row is None else self._to_domain(row)

    async def save(self, credential: CredentialVersion) -> None:
        row = await self.session.get(CredentialVersionRow, (credential.credential_id, credential.version))
        if row is None:
            row = CredentialVersionRow(credential_id=credential.credential_id, version=credential.version)
            self.session.add(row)
        row.issuer_id = credential.issuer_id
        row.name = credential.definition.name
        row.status = credential.status.value
        row.definition = _definition_to_json(credential.definition)
        if credential.status is VersionStatus.PUBLISHED and row.published_at is None:
            row.published_at = sa.func.now()  # type: ignore[assignment]

    async def list(self, *, status: str | None, issuer_id: UUID | None, limit: int, offset: int) -> list[CredentialVersion]:
        query = sa.select(CredentialVersionRow)
        if status:
            query = query.where(CredentialVersionRow.status == status)
        if issuer_id:
            query = query.where(CredentialVersionRow.issuer_id == issuer_id)
        query = query.order_by(
            CredentialVersionRow.name, CredentialVersionRow.credential_id, CredentialVersionRow.version
        ).limit(limit).offset(offset)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    @staticmethod
    def _to_domain(row: CredentialVersionRow) -> CredentialVersion:
        return CredentialVersion(
            credential_id=row.credential_id,
            version=row.version,
            issuer_id=row.issuer_id,
            definition=_definition_from_json(row.definition),
            status=VersionStatus(row.status),
        )
