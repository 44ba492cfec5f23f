"""Per-request / per-message context: the ids that logs carry and new events inherit.

An HTTP request starts a correlation; a consumed event continues its correlation and becomes the
causation of the events its handler produces.
"""

from __future__ import annotations

from contextvars import ContextVar
from uuid import UUID, uuid4

correlation_id_var: ContextVar[UUID | None] = ContextVar("correlation_id", default=None)
event_id_var: ContextVar[UUID | None] = ContextVar("event_id", default=None)


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
