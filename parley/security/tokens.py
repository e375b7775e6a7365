"""Collaborator JWTs: HS256, audience `collaborators`, an expiry, and a per-user token version.

Verification pins the algorithm (so `alg: none` or an RS/HS confusion is refused), checks the
signature, expiry and audience, and compares `tokenVersion` with the user's current one, so that a
password change or a revocation invalidates every token issued before.
"""

from __future__ import annotations

import base64
import functools
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

ALGORITHM = "HS256"
AUDIENCE = "collaborators"
SECRET_FILE = ".parley-secret"

log = logging.getLogger("parley.security")


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class TokenClaims:
    email: str
    token_version: int
    is_super_admin: bool
    raw: dict[str, Any]


def issue(secret: str, *, email: str, token_version: int, is_super_admin: bool, lifetime: float,
          now: float | None = None) -> str:
    now = time.time() if now is None else now
    claims = {
        "email": email,
        "strategy": "default",
        "tokenVersion": token_version,
        "isSuperAdmin": is_super_admin,
        "iat": int(now),
        "exp": int(now + lifetime),
        "aud": AUDIENCE,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(secret: str, token: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            # jsonwebtoken 8, which checks Botpress's tokens, does not look at `iat`: a token issued by a
            # host whose clock is a second ahead must not fail here
            options={"require": ["exp", "aud"], "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    email, version = claims.get("email"), claims.get("tokenVersion")
    if not isinstance(email, str) or not isinstance(version, int) or isinstance(version, bool):
        raise InvalidToken("token lacks email or tokenVersion")
    return TokenClaims(email, version, bool(claims.get("isSuperAdmin")), claims)


CONVERSATION_TOKEN_PREFIX = "ct1."


@functools.lru_cache(maxsize=16384)
def conversation_token(secret: str, bot_id: str, user_id: str) -> str:
    """The token that lets the holder read one conversation's outbox (stream, poll): an HMAC-SHA256
    of the bot and user ids with a key derived from the server secret (so it can never be mistaken
    for, or help forge, a collaborator JWT). It does not expire; changing the secret revokes all.
    Every answer carries one, and a conversation asks for the same one on each message: cached."""
    # exactly json.dumps([bot_id, user_id]) (the bytes tokens were always made of), without its Python-level encoder
    message = f"[{_json_string(bot_id)}, {_json_string(user_id)}]"
    mac = hmac.digest(_conversation_key(secret), message.encode(), "sha256")
    return CONVERSATION_TOKEN_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


_json_string = json.encoder.encode_basestring_ascii  # what json.dumps uses for a str (C-accelerated)


@functools.lru_cache(maxsize=4)
def _conversation_key(secret: str) -> bytes:
    """Derived once per secret: every converse answer carries a conversation token."""
    return hmac.digest(secret.encode(), b"parley conversation token", "sha256")


def check_conversation_token(secret: str, bot_id: str, user_id: str, token: str) -> bool:
    return hmac.compare_digest(conversation_token(secret, bot_id, user_id).encode(), token.encode())


def load_or_create_secret(data_dir: Path) -> str:
    """`PARLEY_SECRET`, else a random key generated once and kept in the data folder (mode 0600).

    Workers starting together agree on one key: creation happens under an exclusive lock of the data
    folder, and the file appears atomically (written under a temporary name, then renamed), so it is
    never read half-written. An empty file is replaced, never used as a key.
    """
    env = os.environ.get("PARLEY_SECRET")
    if env:
        return env
    path = data_dir / SECRET_FILE
    existing = _read_secret(path)
    if existing:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    with _folder_lock(data_dir):
        existing = _read_secret(path)  # another worker may have created it meanwhile
        if existing:
            return existing
        if existing == "":
            log.warning("%s is empty; generating a new signing key", path)
        secret = secrets.token_urlsafe(48)
        tmp = data_dir / f"{SECRET_FILE}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                os.write(fd, secret.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return secret


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    if fcntl is None:  # pragma: no cover - Windows: one process per data folder
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_secret(path: Path) -> str | None:
    """The key in `path`, "" when the file is empty, None when there is no file."""
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    mode = path.stat().st_mode & 0o077
    if text and mode:
        log.warning("%s can be read by other users; restricting it to its owner", path)
        try:
            path.chmod(0o600)
        except OSError as exc:
            log.warning("cannot restrict %s: %s", path, exc)
    return text
