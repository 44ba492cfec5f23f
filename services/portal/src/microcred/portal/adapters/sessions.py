"""Server-side sessions: the browser holds a random id, the portal holds the tokens.

In this process's memory, which is enough for one replica (the Deployment runs one). A multi-replica portal needs
the sessions in a store every replica reads (Redis or a PostgreSQL table of the portal's own, with the same
idle expiry), or sticky sessions at the ingress; a restart signs everyone out, which a shared store also fixes.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class PendingSignIn:
    state: str
    nonce: str
    verifier: str
    next_path: str


@dataclass
class SignedIn:
    subject: str
    name: str
    roles: tuple[str, ...]
    states: tuple[str, ...]
    access_token: str
    expires_at: float
    refresh_token: str | None = None
    # A district admin's district (the ID token's "district" claim), for what their pages list; the services
    # decide what they may read from the access token's own claim.
    district: str | None = None

    @property
    def renewable(self) -> bool:
        return self.refresh_token is not None


@dataclass
class Session:
    id: str
    csrf_token: str
    last_seen: float
    pending: PendingSignIn | None = None
    user: SignedIn | None = None
    flash: list[str] = field(default_factory=list)
    # One refresh at a time per session: with rotation, two concurrent refreshes (an autosave and a page load)
    # would spend the same refresh token twice, and the provider would refuse the second.
    renewing: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False, compare=False)


class SessionStore:
    def __init__(self, idle_seconds: float, max_sessions: int) -> None:
        self._idle = idle_seconds
        self._max = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def new(self) -> Session:
        session = Session(id=secrets.token_urlsafe(32), csrf_token=secrets.token_urlsafe(32), last_seen=time.time())
        self._sessions[session.id] = session
        while len(self._sessions) > self._max:  # the least recently used goes first
            self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        session = self._sessions.get(session_id or "")
        if session is None:
            return None
        now = time.time()
        # An expired access token ends the session unless a refresh token can renew it (``web.signed_in``).
        expired = session.user is not None and session.user.expires_at <= now and not session.user.renewable
        if now - session.last_seen > self._idle or expired:
            self.drop(session.id)
            return None
        session.last_seen = now
        self._sessions.move_to_end(session.id)
        return session

    def rotate(self, session: Session) -> Session:
        """A new id and CSRF token for the same session, at sign-in: an id planted before sign-in is worthless."""
        self.drop(session.id)
        fresh = self.new()
        fresh.user, fresh.flash = session.user, session.flash
        return fresh

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
