"""Collaborators: who may log in, with which role, on which bots.

Users live in the same database as conversations. The email is the identity (lower-cased, as
Botpress does); the password is kept only as an argon2id hash; `token_version` grows when the
password changes or tokens are revoked. A new user's version starts at a random number, so the
tokens of a deleted user never work for a user re-created later with the same email.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass, field

import orjson

ROLES = ("admin", "developer", "viewer")

USERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS collaborators (
    email TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    super_admin INTEGER NOT NULL DEFAULT 0,
    bots TEXT NOT NULL DEFAULT '[]',
    token_version INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)
"""


def new_token_version() -> int:
    return secrets.randbelow(2**30) + 1  # leaves room to grow within a 32-bit INTEGER column


@dataclass
class User:
    email: str
    password_hash: str
    role: str = "admin"
    super_admin: bool = False
    bots: list[str] = field(default_factory=list)  # "*" means every bot
    token_version: int = field(default_factory=new_token_version)

    def may_access(self, bot_id: str) -> bool:
        return self.super_admin or "*" in self.bots or bot_id in self.bots


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _row(r: tuple[str, str, str, int, str, int]) -> User:
    bots = orjson.loads(r[4]) if r[4] else []
    return User(r[0], r[1], r[2], bool(r[3]), [str(b) for b in bots], int(r[5]))


_COLUMNS = "email, password_hash, role, super_admin, bots, token_version"


def get_user(db: sqlite3.Connection, email: str) -> User | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM collaborators WHERE email=?", (normalize_email(email),)).fetchone()
    return _row(row) if row else None


def list_users(db: sqlite3.Connection) -> list[User]:
    return [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM collaborators ORDER BY email").fetchall()]


def count_users(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COUNT(*) FROM collaborators").fetchone()[0])


def put_user(db: sqlite3.Connection, user: User) -> None:
    now = time.time()
    db.execute(
        "INSERT INTO collaborators (email, password_hash, role, super_admin, bots, token_version, created_at, "
        "updated_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (email) DO UPDATE SET "
        "password_hash=excluded.password_hash, role=excluded.role, super_admin=excluded.super_admin, "
        "bots=excluded.bots, token_version=excluded.token_version, updated_at=excluded.updated_at",
        (normalize_email(user.email), user.password_hash, user.role, int(user.super_admin),
         orjson.dumps(user.bots).decode(), user.token_version, now, now),
    )


def delete_user(db: sqlite3.Connection, email: str) -> bool:
    return db.execute("DELETE FROM collaborators WHERE email=?", (normalize_email(email),)).rowcount > 0
