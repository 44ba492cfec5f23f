"""Per-request / per-message context: the ids that logs carry and new events inherit.

An HTTP request starts a correlation; a consumed event continues its correlation and becomes the
causation of the events its handler produces.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID, uuid4

correlation_id_var: ContextVar[UUID | None] = ContextVar("correlation_id", default=None)
event_id_var: ContextVar[UUID | None] = ContextVar("event_id", default=None)


@dataclass
class InboxClaims:
    """What the inbox said to a handler's claims while it handled one message.

    The consumer sets a fresh one before each handler attempt and reads it after the handler returned, so
    the runtime tells a redelivery the inbox absorbed from a handled message without every handler
    reporting it: a handler whose claims were all refused did nothing.
    """

    granted: int = 0
    refused: int = 0

    @property
    def absorbed_a_redelivery(self) -> bool:
        return self.refused > 0 and self.granted == 0


inbox_claims_var: ContextVar[InboxClaims | None] = ContextVar("inbox_claims", default=None)


def current_correlation_id() -> UUID:
    """The correlation in progress, or a fresh one for work that starts here."""
    value = correlation_id_var.get()
    if value is None:
        value = uuid4()
        correlation_id_var.set(value)
    return value


def parse_uuid(value: str | bytes | None) -> UUID | None:
    if value is None:
        return None
    try:
        return UUID(value.decode() if isinstance(value, bytes) else value)
    except ValueError:
        return None
