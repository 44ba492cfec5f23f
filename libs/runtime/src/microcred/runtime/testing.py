"""Test doubles for service unit tests: the messaging half of a unit of work, in memory.

``FakeMessagingUnitOfWork`` keeps the real unit of work's rule: claims (inbox marks) and published
events count only once ``commit()`` ran; leaving the block without it discards them. Services
subclass it and add their fake repositories.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self
from uuid import UUID

from microcred.events import IntegrationEvent


class FakeMessagingUnitOfWork:
    def __init__(self) -> None:
        self.claimed: set[tuple[str, UUID]] = set()
        self.published: list[IntegrationEvent] = []
        self._claims: set[tuple[str, UUID]] = set()
        self._pending: list[IntegrationEvent] = []

    async def __aenter__(self) -> Self:
        self._claims, self._pending = set(), []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._claims, self._pending = set(), []

    async def claim(self, consumer: str, event_id: UUID) -> bool:
        key = (consumer, event_id)
        if key in self.claimed or key in self._claims:
            return False
        self._claims.add(key)
        return True

    def publish(self, *events: IntegrationEvent) -> None:
        self._pending.extend(events)

    async def commit(self) -> None:
        self.claimed |= self._claims
        self.published += self._pending
        self._claims, self._pending = set(), []
