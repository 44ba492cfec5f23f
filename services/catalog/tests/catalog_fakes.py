"""In-memory repositories with the catalog unit of work's interface, so use cases run without a database.

Changes are made on a copy of the state and become visible only on ``commit()``, like the real unit of
work; events and claims follow the same rule through ``FakeMessagingUnitOfWork``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from microcred.catalog.domain.model import Credential, CredentialVersion, Issuer, Pathway, Stack, VersionStatus
from microcred.runtime.testing import FakeMessagingUnitOfWork


@dataclass
class State:
    issuers: dict[UUID, Issuer] = field(default_factory=dict)
    credentials: dict[UUID, Credential] = field(default_factory=dict)
    stacks: dict[UUID, Stack] = field(default_factory=dict)
    pathways: dict[UUID, Pathway] = field(default_factory=dict)


class FakeIssuers:
    def __init__(self, state: State) -> None:
        self.state = state

    async def get(self, issuer_id: UUID) -> Issuer | None:
        return self.state.issuers.get(issuer_id)

    async def by_key(self, key: str) -> Issuer | None:
        return next((i for i in self.state.issuers.values() if i.key == key), None)

    async def taken(self, *, key: str | None = None, name: str | None = None) -> bool:
        return any(i.key == key or i.name == name for i in self.state.issuers.values())

    async def list_all(self) -> list[Issuer]:
        return sorted(self.state.issuers.values(), key=lambda i: i.name)

    async def managed_by(self, subject: str) -> set[UUID]:
        return {i.issuer_id for i in self.state.issuers.values() if subject in i.staff}

    async def save(self, issuer: Issuer) -> None:
        self.state.issuers[issuer.issuer_id] = issuer


class FakeCredentials:
    def __init__(self, state: State) -> None:
        self.state = state

    async def get(self, credential_id: UUID, *, for_update: bool = False) -> Credential | None:
        return self.state.credentials.get(credential_id)

    async def by_key(self, issuer_id: UUID, key: str) -> Credential | None:
        return next((c for c in self.state.credentials.values() if (c.issuer_id, c.key) == (issuer_id, key)), None)

    async def key_taken(self, issuer_id: UUID, key: str) -> bool:
        return await self.by_key(issuer_id, key) is not None

    async def existing(self, credential_ids: Iterable[UUID]) -> set[UUID]:
        return {c for c in credential_ids if c in self.state.credentials}

    async def keys(self) -> dict[UUID, tuple[UUID, str]]:
        return {c.credential_id: (c.issuer_id, c.key) for c in self.state.credentials.values()}

    async def open_versions(self) -> dict[UUID, tuple[int, str]]:
        return {
            c.credential_id: (v.version, v.status.value)
            for c in self.state.credentials.values()
            if (v := c.open_version()) is not None
        }

    async def all_published(self) -> list[CredentialVersion]:
        return [v for c in self.state.credentials.values() if (v := c.latest_published()) is not None]

    async def save(self, credential: Credential) -> None:
        self.state.credentials[credential.credential_id] = credential

    def published(self) -> list[CredentialVersion]:
        return [v for c in self.state.credentials.values() for v in c.versions if v.status is VersionStatus.PUBLISHED]


class FakeGroups:
    """Stacks or pathways: both are keyed by id and unique by (issuer, key)."""

    def __init__(self, rows: dict[UUID, Any], id_field: str) -> None:
        self.rows = rows
        self.id_field = id_field

    async def get(self, item_id: UUID, *, for_update: bool = False) -> Any:
        return self.rows.get(item_id)

    async def by_key(self, issuer_id: UUID, key: str) -> Any:
        return next((r for r in self.rows.values() if (r.issuer_id, r.key) == (issuer_id, key)), None)

    async def list_all(self, *, issuer_id: UUID | None = None, include_inactive: bool = False) -> list[Any]:
        return [r for r in self.rows.values()
                if (issuer_id is None or r.issuer_id == issuer_id) and (include_inactive or r.active)]

    async def save(self, item: Any) -> None:
        self.rows[getattr(item, self.id_field)] = item


class FakeUnitOfWork(FakeMessagingUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.state = State()
        self.commits = 0

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.staged = copy.deepcopy(self.state)
        self.issuers = FakeIssuers(self.staged)
        self.credentials = FakeCredentials(self.staged)
        self.stacks = FakeGroups(self.staged.stacks, "stack_id")
        self.pathways = FakeGroups(self.staged.pathways, "pathway_id")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        await super().commit()
        self.state = copy.deepcopy(self.staged)
        self.commits += 1

    def committed(self) -> FakeCredentials:
        """Committed credentials, to assert on what a use case left behind."""
        return FakeCredentials(self.state)
