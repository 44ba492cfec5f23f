"""Repositories translate between rows and domain objects; the unit of work owns the session."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from microcred.catalog.adapters.orm import (
    CredentialRow,
    CredentialVersionRow,
    IssuerRow,
    IssuerStaffRow,
    PathwayRow,
    StackRow,
    TransitionRow,
)
from microcred.catalog.domain.model import (
    Credential,
    CredentialDefinition,
    CredentialVersion,
    Issuer,
    Pathway,
    Stack,
    StaffRole,
    Step,
    Transition,
    VersionStatus,
)


class IssuerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, issuer_id: UUID) -> Issuer | None:
        row = await self.session.get(IssuerRow, issuer_id)
        return None if row is None else (await self._to_domain([row]))[0]

    async def by_key(self, key: str) -> Issuer | None:
        row = await self.session.scalar(sa.select(IssuerRow).where(IssuerRow.key == key))
        return None if row is None else (await self._to_domain([row]))[0]

    async def taken(self, *, key: str | None = None, name: str | None = None) -> bool:
        clauses = [IssuerRow.key == key] if key is not None else []
        clauses += [IssuerRow.name == name] if name is not None else []
        return bool(await self.session.scalar(sa.select(sa.exists().where(sa.or_(*clauses)))))

    async def list_all(self) -> list[Issuer]:
        return await self._to_domain(list(await self.session.scalars(sa.select(IssuerRow).order_by(IssuerRow.name))))

    async def managed_by(self, subject: str) -> set[UUID]:
        """Issuers where ``subject`` is on the staff (any role)."""
        found = await self.session.scalars(sa.select(IssuerStaffRow.issuer_id).where(IssuerStaffRow.subject == subject))
        return set(found)

    async def save(self, issuer: Issuer) -> None:
        row = await self.session.get(IssuerRow, issuer.issuer_id)
        if row is None:
            row = IssuerRow(issuer_id=issuer.issuer_id)
            self.session.add(row)
        row.key, row.name, row.url, row.email = issuer.key, issuer.name, issuer.url, issuer.email
        row.description, row.image_url = issuer.description, issuer.image_url
        await self.session.flush()
        await self.session.execute(sa.delete(IssuerStaffRow).where(IssuerStaffRow.issuer_id == issuer.issuer_id))
        if issuer.staff:
            await self.session.execute(
                insert(IssuerStaffRow),
                [{"issuer_id": issuer.issuer_id, "subject": s, "role": r.value} for s, r in issuer.staff.items()],
            )

    async def _to_domain(self, rows: Sequence[IssuerRow]) -> list[Issuer]:
        staff: dict[UUID, dict[str, StaffRole]] = {row.issuer_id: {} for row in rows}
        if rows:
            found = await self.session.scalars(
                sa.select(IssuerStaffRow).where(IssuerStaffRow.issuer_id.in_(list(staff)))
            )
            for member in found:
                staff[member.issuer_id][member.subject] = StaffRole(member.role)
        return [
            Issuer(row.issuer_id, row.key, row.name, row.url, row.email, row.description, row.image_url,
                   staff[row.issuer_id])
            for row in rows
        ]


@dataclass(frozen=True)
class CredentialQuery:
    status: str = VersionStatus.PUBLISHED.value
    text: str | None = None
    issuer_ids: Sequence[UUID] | None = None
    credential_ids: Sequence[UUID] | None = None
    subject: str | None = None
    grade_band: str | None = None
    alignment: str | None = None
    limit: int = 50
    offset: int = 0


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, credential_id: UUID, *, for_update: bool = False) -> Credential | None:
        query = sa.select(CredentialRow).where(CredentialRow.credential_id == credential_id)
        # Locking the aggregate root serialises every change to a credential's versions.
        row = await self.session.scalar(query.with_for_update() if for_update else query)
        return None if row is None else await self._load(row)

    async def by_key(self, issuer_id: UUID, key: str) -> Credential | None:
        row = await self.session.scalar(
            sa.select(CredentialRow).where(CredentialRow.issuer_id == issuer_id, CredentialRow.key == key)
        )
        return None if row is None else await self._load(row)

    async def key_taken(self, issuer_id: UUID, key: str) -> bool:
        return bool(await self.session.scalar(sa.select(sa.exists().where(
            CredentialRow.issuer_id == issuer_id, CredentialRow.key == key
        ))))

    async def existing(self, credential_ids: Iterable[UUID]) -> set[UUID]:
        wanted = list(set(credential_ids))
        if not wanted:
            return set()
        return set(await self.session.scalars(
            sa.select(CredentialRow.credential_id).where(CredentialRow.credential_id.in_(wanted))
        ))

    async def keys(self) -> dict[UUID, tuple[UUID, str]]:
        """Every credential's (issuer id, key), for resolving and writing catalog documents."""
        rows = await self.session.execute(sa.select(CredentialRow.credential_id, CredentialRow.issuer_id,
                                                    CredentialRow.key))
        return {row.credential_id: (row.issuer_id, row.key) for row in rows}

    async def open_versions(self) -> dict[UUID, tuple[int, str]]:
        rows = await self.session.execute(
            sa.select(CredentialVersionRow.credential_id, CredentialVersionRow.version, CredentialVersionRow.status)
            .where(CredentialVersionRow.status.in_([s.value for s in VersionStatus if s.is_open]))
        )
        return {row.credential_id: (row.version, row.status) for row in rows}

    async def all_published(self) -> list[CredentialVersion]:
        """The latest published version of every credential that has one."""
        latest = (
            sa.select(CredentialVersionRow)
            .where(CredentialVersionRow.status == VersionStatus.PUBLISHED.value)
            .distinct(CredentialVersionRow.credential_id)
            .order_by(CredentialVersionRow.credential_id, CredentialVersionRow.version.desc())
        )
        keys = await self.keys()
        return [self._version(row, keys[row.credential_id][1], []) for row in await self.session.scalars(latest)]

    async def save(self, credential: Credential) -> None:
        row = await self.session.get(CredentialRow, credential.credential_id)
        if row is None:
            self.session.add(CredentialRow(
                credential_id=credential.credential_id, issuer_id=credential.issuer_id, key=credential.key
            ))
        for version in credential.versions:
            version_row = await self.session.get(CredentialVersionRow, (version.credential_id, version.version))
            if version_row is None:
                version_row = CredentialVersionRow(credential_id=version.credential_id, version=version.version)
                self.session.add(version_row)
            d = version.definition
            version_row.issuer_id = version.issuer_id
            version_row.status = version.status.value
            version_row.name, version_row.competency = d.name, d.competency
            version_row.subjects, version_row.grade_bands = list(d.subjects), list(d.grade_bands)
            version_row.definition = d.model_dump(mode="json")
            version_row.created_at = version.created_at  # type: ignore[assignment]
            version_row.published_at, version_row.retired_at = version.published_at, version.retired_at
        await self.session.flush()
        transitions = [
            {"credential_id": version.credential_id, "version": version.version, "seq": seq,
             "from_status": t.from_status.value if t.from_status else None, "to_status": t.to_status.value,
             "actor": t.actor, "reason": t.reason, "at": t.at}
            for version in credential.versions
            for seq, t in enumerate(version.transitions)
        ]
        if transitions:
            # History is append-only: rows already written keep their place and are skipped.
            await self.session.execute(insert(TransitionRow).on_conflict_do_nothing(), transitions)

    async def search(self, query: CredentialQuery) -> tuple[list[CredentialVersion], int]:
        """One row per credential: its latest version with ``status``; sorted by name, then id."""
        v = CredentialVersionRow
        latest = (
            sa.select(v.credential_id, sa.func.max(v.version).label("version"))
            .where(v.status == query.status)
            .group_by(v.credential_id)
            .subquery()
        )
        found = sa.select(v).join(latest, sa.and_(v.credential_id == latest.c.credential_id,
                                                  v.version == latest.c.version))
        if query.text:
            found = found.where(v.search.bool_op("@@")(sa.func.websearch_to_tsquery("english", query.text)))
        if query.issuer_ids is not None:
            found = found.where(v.issuer_id.in_(list(query.issuer_ids)))
        if query.credential_ids is not None:
            found = found.where(v.credential_id.in_(list(query.credential_ids)))
        if query.subject:
            found = found.where(v.subjects.contains([query.subject]))
        if query.grade_band:
            found = found.where(v.grade_bands.contains([query.grade_band]))
        if query.alignment:
            alignments = v.definition["alignments"]
            found = found.where(sa.or_(*(
                alignments.contains([{field: query.alignment}])
                for field in ("target_framework", "target_code", "target_name")
            )))
        # The page, each credential's key and the total in ONE statement, so the total agrees with the page
        # though the search reads without a transaction (UnitOfWork.without_transaction). The count is joined
        # to the page, so a page past the end still says how many there are.
        counted = sa.select(sa.func.count().label("n")).select_from(found.subquery()).subquery("counted")
        shown = (
            found.add_columns(CredentialRow.key.label("credential_key"))
            .join(CredentialRow, CredentialRow.credential_id == v.credential_id)
            .order_by(v.name, v.credential_id).limit(query.limit).offset(query.offset)
            .subquery("shown")
        )
        version = aliased(CredentialVersionRow, shown)
        rows = (await self.session.execute(
            sa.select(counted.c.n, version, shown.c.credential_key).select_from(counted)
            .outerjoin(shown, sa.true()).order_by(version.name, version.credential_id)
        )).all()
        return [self._version(row, key, []) for _, row, key in rows if row is not None], int(rows[0][0])

    async def _load(self, row: CredentialRow) -> Credential:
        versions = list(await self.session.scalars(
            sa.select(CredentialVersionRow).where(CredentialVersionRow.credential_id == row.credential_id)
            .order_by(CredentialVersionRow.version)
        ))
        history: dict[int, list[Transition]] = {v.version: [] for v in versions}
        for t in await self.session.scalars(
            sa.select(TransitionRow).where(TransitionRow.credential_id == row.credential_id)
            .order_by(TransitionRow.version, TransitionRow.seq)
        ):
            if t.version not in history:
                continue  # a version drafted after the versions were read (each statement its own snapshot)
            history[t.version].append(Transition(
                t.version, VersionStatus(t.from_status) if t.from_status else None, VersionStatus(t.to_status),
                t.actor, t.reason, t.at,
            ))
        return Credential(
            row.credential_id, row.issuer_id, row.key,
            [self._version(v, row.key, history[v.version]) for v in versions],
        )

    @staticmethod
    def _version(row: CredentialVersionRow, key: str, transitions: list[Transition]) -> CredentialVersion:
        return CredentialVersion(
            credential_id=row.credential_id,
            version=row.version,
            issuer_id=row.issuer_id,
            key=key,
            definition=CredentialDefinition.model_validate(row.definition),
            status=VersionStatus(row.status),
            transitions=transitions,
            created_at=row.created_at,
            published_at=row.published_at,
            retired_at=row.retired_at,
        )


class StackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, stack_id: UUID, *, for_update: bool = False) -> Stack | None:
        query = sa.select(StackRow).where(StackRow.stack_id == stack_id)
        row = await self.session.scalar(query.with_for_update() if for_update else query)
        return None if row is None else self._to_domain(row)

    async def by_key(self, issuer_id: UUID, key: str) -> Stack | None:
        row = await self.session.scalar(sa.select(StackRow).where(StackRow.issuer_id == issuer_id,
                                                                  StackRow.key == key).with_for_update())
        return None if row is None else self._to_domain(row)

    async def list_all(self, *, issuer_id: UUID | None = None, include_inactive: bool = False) -> list[Stack]:
        query = sa.select(StackRow).order_by(StackRow.name, StackRow.stack_id)
        if issuer_id is not None:
            query = query.where(StackRow.issuer_id == issuer_id)
        if not include_inactive:
            query = query.where(StackRow.active)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def save(self, stack: Stack) -> None:
        row = await self.session.get(StackRow, stack.stack_id)
        if row is None:
            row = StackRow(stack_id=stack.stack_id)
            self.session.add(row)
        row.issuer_id, row.key, row.name, row.description = stack.issuer_id, stack.key, stack.name, stack.description
        row.credential_ids, row.revision, row.active = list(stack.credential_ids), stack.revision, stack.active

    @staticmethod
    def _to_domain(row: StackRow) -> Stack:
        return Stack(row.stack_id, row.issuer_id, row.key, row.name, row.description, tuple(row.credential_ids),
                     row.revision, row.active)


class PathwayRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, pathway_id: UUID, *, for_update: bool = False) -> Pathway | None:
        query = sa.select(PathwayRow).where(PathwayRow.pathway_id == pathway_id)
        row = await self.session.scalar(query.with_for_update() if for_update else query)
        return None if row is None else self._to_domain(row)

    async def by_key(self, issuer_id: UUID, key: str) -> Pathway | None:
        row = await self.session.scalar(sa.select(PathwayRow).where(PathwayRow.issuer_id == issuer_id,
                                                                    PathwayRow.key == key).with_for_update())
        return None if row is None else self._to_domain(row)

    async def list_all(self, *, issuer_id: UUID | None = None, include_inactive: bool = False) -> list[Pathway]:
        query = sa.select(PathwayRow).order_by(PathwayRow.name, PathwayRow.pathway_id)
        if issuer_id is not None:
            query = query.where(PathwayRow.issuer_id == issuer_id)
        if not include_inactive:
            query = query.where(PathwayRow.active)
        return [self._to_domain(row) for row in await self.session.scalars(query)]

    async def save(self, pathway: Pathway) -> None:
        row = await self.session.get(PathwayRow, pathway.pathway_id)
        if row is None:
            row = PathwayRow(pathway_id=pathway.pathway_id)
            self.session.add(row)
        row.issuer_id, row.key, row.name = pathway.issuer_id, pathway.key, pathway.name
        row.description, row.revision, row.active = pathway.description, pathway.revision, pathway.active
        row.steps = [
            {"credential_id": str(s.credential_id), "prerequisites": [str(p) for p in s.prerequisites]}
            for s in pathway.steps
        ]

    @staticmethod
    def _to_domain(row: PathwayRow) -> Pathway:
        steps = tuple(
            Step(UUID(s["credential_id"]), tuple(UUID(p) for p in s["prerequisites"])) for s in row.steps
        )
        return Pathway(row.pathway_id, row.issuer_id, row.key, row.name, row.description, steps, row.revision,
                       row.active)
