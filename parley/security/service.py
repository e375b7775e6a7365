"""Login, token checks and the first admin: the security rules in one place, used by the HTTP layer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from parley.engine.durations import parse_duration
from parley.security import tokens
from parley.security.passwords import hash_password, needs_rehash, verify_password
from parley.security.users import User, normalize_email

log = logging.getLogger("parley.security")

DEFAULT_TOKEN_LIFETIME = "1h"
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
FAILURE_WINDOW = 300.0  # seconds


class UserStore(Protocol):
    """What security needs from a store (SQLite or PostgreSQL)."""

    async def get_user(self, email: str) -> User | None: ...

    async def put_user(self, user: User) -> None: ...

    async def create_first_user(self, user: User) -> bool: ...


class AuthError(Exception):
    """401: the message is Botpress's (`Unauthorized: …`)."""


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after}s")
        self.retry_after = retry_after


@dataclass
class _Window:
    """Failed attempts per key in a sliding window; old entries fall off as time passes."""

    limit: int
    seconds: float
    hits: dict[str, deque[float]] = field(default_factory=dict)
    MAX_KEYS: ClassVar[int] = 10_000

    def blocked_for(self, key: str, now: float) -> float:
        q = self.hits.get(key)
        if not q:
            return 0.0
        while q and q[0] <= now - self.seconds:
            q.popleft()
        if not q:
            self.hits.pop(key, None)
            return 0.0
        # Blocked until enough attempts fall out of the window to leave room for one more.
        return q[len(q) - self.limit] + self.seconds - now if len(q) >= self.limit else 0.0

    def add(self, key: str, now: float) -> None:
        if len(self.hits) >= self.MAX_KEYS:
            self._sweep(now)
        self.hits.setdefault(key, deque()).append(now)

    def discard(self, key: str, at: float) -> None:
        """Forget one attempt made at `at` (it turned out to be a success)."""
        q = self.hits.get(key)
        if q is not None:
            try:
                q.remove(at)
            except ValueError:
                pass
            if not q:
                self.hits.pop(key, None)

    def clear(self, key: str) -> None:
        self.hits.pop(key, None)

    def _sweep(self, now: float) -> None:
        """Drop keys whose attempts are all out of the window, so random emails cannot grow memory forever."""
        for key in [k for k, q in self.hits.items() if not q or q[-1] <= now - self.seconds]:
            del self.hits[key]


def token_lifetime(duration: Any) -> float:
    """Seconds from `jwtToken.duration`: a string as `ms` reads it ("1h"), a number as seconds (as
    jsonwebtoken's `expiresIn` reads it); anything unusable or not positive gives the 1h default."""
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        seconds: float | None = float(duration)
    else:
        seconds = parse_duration(duration or DEFAULT_TOKEN_LIFETIME)
    if seconds is None or seconds <= 0:
        if duration is not None:
            log.warning("jwtToken.duration %r is not a usable duration; tokens last %s", duration,
                        DEFAULT_TOKEN_LIFETIME)
        return 3600.0
    return seconds


class Auth:
    def __init__(self, store: UserStore, secret: str, token_duration: Any = None) -> None:
        self.store = store
        self.secret = secret
        self.lifetime = token_lifetime(token_duration)
        self.by_email = _Window(MAX_FAILURES_PER_EMAIL, FAILURE_WINDOW)
        self.by_client = _Window(MAX_FAILURES_PER_CLIENT, FAILURE_WINDOW)

    async def ensure_admin(self, email: str | None, password: str | None) -> None:
        """Create the first admin from the environment when no user exists yet."""
        if not email or not password:
            return
        hashed = await asyncio.to_thread(hash_password, password)
        if await self.store.create_first_user(User(normalize_email(email), hashed, "admin", True, ["*"])):
            log.info("created the first admin user %s", normalize_email(email))

    async def login(self, email: str, password: str, client: str) -> tuple[str, int]:
        """Return (jwt, lifetime in ms) or raise InvalidCredentials/LoginThrottled."""
        email = normalize_email(email)
        now = time.monotonic()
        wait = max(self.by_email.blocked_for(email, now), self.by_client.blocked_for(client, now))
        if wait > 0:
            raise LoginThrottled(int(wait) + 1)
        # Count the attempt as failed before the first await, and take it back on success: otherwise
        # many concurrent guesses would all pass the check above before any failure is recorded.
        self.by_email.add(email, now)
        self.by_client.add(client, now)
        user = await self.store.get_user(email)
        # Verify against a dummy hash for unknown emails, so both cases take the same time.
        ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
        if not ok or user is None:
            raise InvalidCredentials()
        self.by_email.clear(email)
        self.by_client.discard(client, now)
        if needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(hash_password, password)
            await self.store.put_user(user)
        token = tokens.issue(self.secret, email=user.email, token_version=user.token_version,
                             is_super_admin=user.super_admin, lifetime=self.lifetime)
        return token, int(self.lifetime * 1000)

    async def authenticate(self, header: str | None) -> User:
        """The collaborator behind an `Authorization: Bearer <jwt>` header (Botpress's 401 messages)."""
        if header is None or not header.strip():  # Express treats an empty header as a missing one
            raise AuthError("Unauthorized: Authorization header is missing")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError(f'Unauthorized: Unknown scheme "{scheme}"')
        token = token.strip()
        if not token:
            raise AuthError("Unauthorized: Authentication token is missing")
        try:
            claims = tokens.verify(self.secret, token)
        except tokens.InvalidToken as exc:
            raise AuthError("Unauthorized: Invalid authentication token") from exc
        user = await self.store.get_user(claims.email)
        if user is None or user.token_version != claims.token_version:
            raise AuthError("Unauthorized: Invalid authentication token")
        return user


class InvalidCredentials(Exception):
    pass
