"""Login, token checks and the first admin: the security rules in one place, used by the HTTP layer."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from parley.engine.durations import parse_duration
from parley.security import tokens
from parley.security.passwords import hash_password, needs_rehash, verify_password
from parley.security.throttle import FailureWindow, LocalWindow, RedisWindow
from parley.security.users import User, normalize_email
from parley.store.redis_client import redis_from_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

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


def split_authorization(header: str) -> tuple[str, str]:
    """`const [scheme, token] = authorization.split(' ')`: one space only, anything after a second ignored."""
    parts = header.strip().split(" ")
    return parts[0], parts[1] if len(parts) > 1 else ""


class Auth:
    def __init__(self, store: UserStore, secret: str, token_duration: Any = None,
                 redis_url: str | None = None) -> None:
        self.store = store
        self.secret = secret
        self.lifetime = token_lifetime(token_duration)
        self.by_email: FailureWindow
        self.by_client: FailureWindow
        self._redis: Redis | None = None
        if redis_url:  # shared by every worker: N workers allow as many guesses as one
            self._redis = redis_from_url(redis_url, decode_responses=True)
            self.by_email = RedisWindow(self._redis, "email", MAX_FAILURES_PER_EMAIL, FAILURE_WINDOW)
            self.by_client = RedisWindow(self._redis, "client", MAX_FAILURES_PER_CLIENT, FAILURE_WINDOW)
        else:
            self.by_email = LocalWindow(MAX_FAILURES_PER_EMAIL, FAILURE_WINDOW)
            self.by_client = LocalWindow(MAX_FAILURES_PER_CLIENT, FAILURE_WINDOW)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

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
        now = time.time()
        # The attempt counts as failed from here (atomically with the check), and is taken back on
        # success: otherwise many concurrent guesses would all pass the check before any failure counts.
        wait, by_email = await self.by_email.try_add(email, now)
        if wait > 0:
            raise LoginThrottled(int(wait) + 1)
        wait, by_client = await self.by_client.try_add(client, now)
        if wait > 0:
            await self.by_email.discard(email, by_email)
            raise LoginThrottled(int(wait) + 1)
        user = await self.store.get_user(email)
        # Verify against a dummy hash for unknown emails, so both cases take the same time.
        ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
        if not ok or user is None:
            raise InvalidCredentials()
        await self.by_email.clear(email)
        await self.by_client.discard(client, by_client)
        if needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(hash_password, password)
            await self.store.put_user(user)
        return self.issue(user)

    def issue(self, user: User) -> tuple[str, int]:
        """(jwt, lifetime in ms) for a user just logged in, or whose token was just checked (refresh)."""
        token = tokens.issue(self.secret, email=user.email, token_version=user.token_version,
                             is_super_admin=user.super_admin, lifetime=self.lifetime)
        return token, int(self.lifetime * 1000)

    async def authenticate(self, header: str | None) -> User:
        """The collaborator behind an `Authorization: Bearer <jwt>` header (Botpress's 401 messages)."""
        if header is None or not header.strip():  # Express treats an empty header as a missing one
            raise AuthError("Unauthorized: Authorization header is missing")
        scheme, token = split_authorization(header)
        if scheme.lower() != "bearer":
            raise AuthError(f'Unauthorized: Unknown scheme "{scheme}"')
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
