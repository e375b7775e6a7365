"""Collaborator JWTs: HS256, audience `collaborators`, an expiry, and a per-user token version.

Verification pins the algorithm (so `alg: none` or an RS/HS confusion is refused), checks the
signature, expiry and audience, and compares `tokenVersion` with the user's current one, so that a
password change or a revocation invalidates every token issued before.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

ALGORITHM = "HS256"
AUDIENCE = "collaborators"
SECRET_FILE = ".parley-secret"


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
            options={"require": ["exp", "iat", "aud"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    email, version = claims.get("email"), claims.get("tokenVersion")
    if not isinstance(email, str) or not isinstance(version, int) or isinstance(version, bool):
        raise InvalidToken("token lacks email or tokenVersion")
    return TokenClaims(email, version, bool(claims.get("isSuperAdmin")), claims)


def load_or_create_secret(data_dir: Path) -> str:
    """`PARLEY_SECRET`, else a random key generated once and kept in the data folder (mode 0600)."""
    env = os.environ.get("PARLEY_SECRET")
    if env:
        return env
    path = data_dir / SECRET_FILE
    try:
        existing = path.read_text().strip()
        if existing:
            return existing
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        time.sleep(0.05)
        return path.read_text().strip()
    try:
        os.write(fd, secret.encode())
    finally:
        os.close(fd)
    return secret
