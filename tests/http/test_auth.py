"""Login, JWTs and the secured debug route, as a client sees them.

Most tests run the real app in-process (its lifespan included) behind httpx's ASGI transport, on a
fresh copy of the Botpress templates under tmp_path; the `parley users` tests run the real command.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher, Type
from starlette.applications import Starlette

from parley.http.app import create_app
from parley.security import passwords, service, tokens
from parley.security.passwords import hash_password
from parley.security.users import User
from parley.settings import Settings
from tests.conftest import REPO, make_template_data, shared_or_skip, start_server, stop_server

ADMIN = "admin@parley.test"
PASSWORD = "Adm1n-Passw0rd!"
SECRET = "parley-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789-ABCDEFGHIJ"
LOGIN = "/api/v1/auth/login/basic/default"
BOT = "welcome-bot"
SECURED = f"/api/v1/bots/{BOT}/converse/u1/secured"
PUBLIC = f"/api/v1/bots/{BOT}/converse/u1"
DOCS = "https://botpress.com/docs"

# ------------------------------------------------------------------------------------------- helpers


@dataclass
class Running:
    app: Starlette
    client: httpx.AsyncClient
    data: Path

    def client_from(self, host: str) -> httpx.AsyncClient:
        """Another client of the same app, seen from another address."""
        transport = httpx.ASGITransport(app=self.app, client=(host, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://test")

    async def sql(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return await self.app.state.auth.store.run_sync(fn)

    async def add_user(self, email: str, password: str, *, role: str = "developer", super_admin: bool = False,
                       bots: list[str] | None = None) -> None:
        await self.app.state.auth.store.put_user(User(email, hash_password(password), role, super_admin, bots or []))

    async def login(self, email: str = ADMIN, password: str = PASSWORD, **kw: Any) -> httpx.Response:
        return await self.client.post(LOGIN, json={"email": email, "password": password}, **kw)

    async def token(self, email: str = ADMIN, password: str = PASSWORD) -> str:
        r = await self.login(email, password)
        assert r.status_code == 200, r.text
        return str(r.json()["payload"]["jwt"])

    async def secured(self, token: str | None, body: Any = None, *, include: str | None = None,
                      path: str = SECURED, scheme: str = "Bearer") -> httpx.Response:
        headers = {} if token is None else {"Authorization": f"{scheme} {token}"}
        params = {} if include is None else {"include": include}
        return await self.client.post(path, json=body if body is not None else {"text": "hi"}, headers=headers,
                                      params=params)


def template_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shared_or_skip()
    monkeypatch.setenv("PARLEY_ADMIN_EMAIL", ADMIN)
    monkeypatch.setenv("PARLEY_ADMIN_PASSWORD", PASSWORD)
    monkeypatch.setenv("PARLEY_SECRET", SECRET)
    return make_template_data(tmp_path)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The templates, an admin from the environment, and argon2id with small parameters (each hash with
    the production ones takes ~0.15 s; `real_data` keeps them)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    monkeypatch.setattr(passwords, "_hasher", cheap)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", cheap.hash("parley: no such user"))
    return template_data(tmp_path, monkeypatch)


@pytest.fixture
def real_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return template_data(tmp_path, monkeypatch)


def settings_for(data: Path, global_config: dict[str, Any] | None = None) -> Settings:
    return Settings(data_dir=data, database_url=f"sqlite:///{data.parent / 'db.sqlite'}", watch=False,
                    nlu_enabled=False, global_config=global_config or {})


@asynccontextmanager
async def running(data: Path, global_config: dict[str, Any] | None = None) -> AsyncIterator[Running]:
    app = create_app(settings_for(data, global_config))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Running(app, client, data)


def b64url(obj: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"email": ADMIN, "strategy": "default", "tokenVersion": 1, "isSuperAdmin": True,
                            "iat": now, "exp": now + 3600, "aud": "collaborators"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def error_body(status: int, type_: str, message: str, code: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"statusCode": status}
    if code:
        out["errorCode"] = code
    out.update({"type": type_, "message": message, "details": "", "docs": DOCS})
    return out


def unauthorized(message: str) -> dict[str, Any]:
    return error_body(401, "UnauthorizedError", f"Unauthorized: {message}", "BP_0041")


INVALID_CREDENTIALS = error_body(400, "InvalidCredentialsError", "Invalid credentials", "BP_0009")
INVALID_TOKEN = unauthorized("Invalid authentication token")

# --------------------------------------------------------------------------------------------- login


async def test_login_success_body_and_token_claims(data: Path) -> None:
    async with running(data) as srv:
        r = await srv.login()
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert list(body) == ["status", "message", "payload"]
    assert body["status"] == "success" and body["message"] == "Login successful"
    assert list(body["payload"]) == ["jwt", "exp"] and body["payload"]["exp"] == 3600000
    token = body["payload"]["jwt"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    decoded = jwt.decode(token, SECRET, algorithms=["HS256"], audience="collaborators")
    assert decoded["email"] == ADMIN and decoded["strategy"] == "default" and decoded["isSuperAdmin"] is True
    assert isinstance(decoded["tokenVersion"], int)
    assert decoded["exp"] - decoded["iat"] == 3600


@pytest.mark.parametrize(
    ("duration", "ms"),
    [("30m", 1800000), ("2h", 7200000), ("3s", 3000), ("1 day", 86400000), (120, 120000), ("soon", 3600000),
     ("-1h", 3600000), (None, 3600000)],
)
async def test_login_exp_follows_jwt_duration(data: Path, duration: Any, ms: int) -> None:
    """A string as Botpress's `ms` reads it, a number as seconds (jsonwebtoken's `expiresIn`); a value
    that is no usable duration falls back to the 1h default rather than to tokens born expired."""
    async with running(data, {"jwtToken": {"duration": duration}}) as srv:
        r = await srv.login()
    assert r.status_code == 200
    assert r.json()["payload"]["exp"] == ms
    decoded = jwt.decode(r.json()["payload"]["jwt"], SECRET, algorithms=["HS256"], audience="collaborators")
    assert (decoded["exp"] - decoded["iat"]) * 1000 == ms


async def test_login_email_is_case_insensitive(data: Path) -> None:
    async with running(data) as srv:
        r = await srv.login("ADMIN@Parley.TEST")
        assert r.status_code == 200
        decoded = jwt.decode(r.json()["payload"]["jwt"], SECRET, algorithms=["HS256"], audience="collaborators")
        assert decoded["email"] == ADMIN
        assert (await srv.secured(r.json()["payload"]["jwt"])).status_code == 200


async def test_login_form_encoded(data: Path) -> None:
    async with running(data) as srv:
        r = await srv.client.post(LOGIN, content="email=admin%40parley.test&password=Adm1n-Passw0rd%21",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert r.json()["status"] == "success"


@pytest.mark.parametrize(
    "body",
    [
        {"email": ADMIN, "password": "wrong-password"},
        {"email": "nobody@parley.test", "password": PASSWORD},
        {"email": ADMIN},
        {"email": ADMIN, "password": ""},
        {"email": ADMIN, "password": 12345678},
        {"email": ADMIN, "password": PASSWORD.lower()},
    ],
    ids=["wrong-password", "unknown-email", "missing-password", "empty-password", "number-password", "case"],
)
async def test_login_refused_with_invalid_credentials(data: Path, body: dict[str, Any]) -> None:
    async with running(data) as srv:
        r = await srv.client.post(LOGIN, json=body)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == INVALID_CREDENTIALS
    assert "jwt" not in r.text


@pytest.mark.parametrize("body", [{"password": PASSWORD}, {}], ids=["missing-email", "empty-object"])
async def test_login_missing_email_is_botpress_type_error(data: Path, body: dict[str, Any]) -> None:
    async with running(data) as srv:
        r = await srv.client.post(LOGIN, json=body)
        # A body that is not JSON nor a form leaves the body empty in Botpress: the same error.
        text = await srv.client.post(LOGIN, content=f"email={ADMIN}", headers={"Content-Type": "text/plain"})
    expected = error_body(400, "TypeError", "Cannot read property 'toLowerCase' of undefined")
    assert r.status_code == 400 and r.json() == expected
    assert text.status_code == 400 and text.json() == expected


@pytest.mark.parametrize(
    ("body", "type_", "message"),
    [
        ({"email": None, "password": PASSWORD}, "TypeError", "Cannot read property 'toLowerCase' of null"),
        ({"email": 42, "password": PASSWORD}, "TypeError", "req.body.email.toLowerCase is not a function"),
        ({"email": "", "password": PASSWORD}, "Error", "Email and Strategy are mandatory"),
    ],
    ids=["null-email", "number-email", "empty-email"],
)
async def test_login_with_an_unusable_email_fails_as_botpress_does(
    data: Path, body: dict[str, Any], type_: str, message: str
) -> None:
    async with running(data) as srv:
        r = await srv.client.post(LOGIN, json=body)
    assert r.status_code == 400 and r.json() == error_body(400, type_, message)


async def test_login_with_an_unknown_strategy_is_refused(data: Path) -> None:
    """Only the `default` basic strategy exists (the name is case-sensitive); the reserved server user
    never logs in, whatever the strategy."""
    async with running(data) as srv:
        other = await srv.client.post("/api/v1/auth/login/basic/other", json={"email": ADMIN, "password": PASSWORD})
        upper = await srv.client.post("/api/v1/auth/login/basic/Default", json={"email": ADMIN,
                                                                                 "password": PASSWORD})
        internal = await srv.client.post("/api/v1/auth/login/basic/other", json={"email": "server::modules",
                                                                                  "password": "x"})
    for refused in (other, upper):
        assert refused.status_code == 400
        assert refused.json()["type"] == "InvalidOperationError" and "jwt" not in refused.text
    assert internal.status_code == 400 and internal.json() == INVALID_CREDENTIALS


async def test_no_admin_without_environment(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_ADMIN_PASSWORD")
    async with running(data) as srv:
        assert (await srv.login()).json() == INVALID_CREDENTIALS
        count = await srv.sql(lambda db: db.execute("SELECT COUNT(*) FROM collaborators").fetchone()[0])
    assert count == 0


async def test_environment_admin_only_when_no_user_exists(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with running(data) as srv:
        assert (await srv.login()).status_code == 200
    # Later starts with another password in the environment do not reset the admin's password.
    monkeypatch.setenv("PARLEY_ADMIN_PASSWORD", "another-password")
    async with running(data) as srv:
        assert (await srv.login()).status_code == 200
        assert (await srv.login(password="another-password")).json() == INVALID_CREDENTIALS


# ------------------------------------------------------------------------------------ 401 on /secured


def forged_tokens(good: str) -> dict[str, str]:
    """Tokens that must all be refused. Claims-based ones carry the real admin's token version, so that
    only the property named by the case is wrong."""
    version = jwt.decode(good, SECRET, algorithms=["HS256"], audience="collaborators")["tokenVersion"]

    def c(**overrides: Any) -> dict[str, Any]:
        return claims(**{"tokenVersion": version, **overrides})

    none = {"alg": "none", "typ": "JWT"}
    head, payload, sig = good.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered["email"] = "other@parley.test"
    now = int(time.time())
    return {
        "other-key": jwt.encode(c(), "another-secret-" * 5, algorithm="HS256"),
        "alg-none": f"{b64url(none)}.{b64url(c())}.",
        "alg-None": f"{b64url({'alg': 'None', 'typ': 'JWT'})}.{b64url(c())}.",
        "alg-none-with-signature": f"{b64url(none)}.{b64url(c())}.{sig}",
        "alg-swapped-header": f"{b64url(none)}.{payload}.{sig}",
        "hs512-right-key": jwt.encode(c(), SECRET, algorithm="HS512"),
        "hs384-right-key": jwt.encode(c(), SECRET, algorithm="HS384"),
        "wrong-audience": jwt.encode(c(aud="web-login"), SECRET, algorithm="HS256"),
        "no-audience": jwt.encode(c(aud=None), SECRET, algorithm="HS256"),
        "no-expiry": jwt.encode(c(exp=None), SECRET, algorithm="HS256"),
        "expired": tokens.issue(SECRET, email=ADMIN, token_version=version, is_super_admin=True, lifetime=3600,
                                now=time.time() - 7200),
        # `iat` is not checked (jsonwebtoken does not), `nbf` is
        "not-valid-before": jwt.encode(c(nbf=now + 3600, exp=now + 7200), SECRET, algorithm="HS256"),
        "unknown-user": jwt.encode(c(email="ghost@parley.test"), SECRET, algorithm="HS256"),
        "old-version": jwt.encode(c(tokenVersion=version - 1), SECRET, algorithm="HS256"),
        "version-as-string": jwt.encode(c(tokenVersion=str(version)), SECRET, algorithm="HS256"),
        "no-email": jwt.encode(c(email=None), SECRET, algorithm="HS256"),
        "tampered-payload": f"{head}.{b64url(tampered)}.{sig}",
        "garbage": "garbage",
        "jwt-shaped-garbage": "abc.def.ghi",
        "two-tokens": f"{good}.{good}",
    }


async def test_every_bad_token_is_a_401(data: Path) -> None:
    async with running(data) as srv:
        good = await srv.token()
        version = jwt.decode(good, SECRET, algorithms=["HS256"], audience="collaborators")["tokenVersion"]
        # Sanity: the same claims, signed properly, are accepted.
        proper = jwt.encode(claims(tokenVersion=version), SECRET, algorithm="HS256")
        assert (await srv.secured(proper)).status_code == 200
        for name, token in forged_tokens(good).items():
            r = await srv.secured(token)
            assert r.status_code == 401, name
            assert r.headers["content-type"] == "application/json; charset=utf-8", name
            assert r.json() == INVALID_TOKEN, name


HEADER_ERRORS = [  # (Authorization header or None for none, Botpress's message); {jwt} = a valid token
    (None, "Authorization header is missing"),
    ("", "Authorization header is missing"),
    ("Basic {jwt}", 'Unknown scheme "Basic"'),
    ("Token {jwt}", 'Unknown scheme "Token"'),
    ("{jwt}", 'Unknown scheme "{jwt}"'),
    ("Bearer", "Authentication token is missing"),
    ("Bearer ", "Authentication token is missing"),
    ("Bearer garbage", "Invalid authentication token"),
    ("Bearer abc.def.ghi", "Invalid authentication token"),
    ("Bearer  {jwt}", "Authentication token is missing"),  # `split(' ')`: the token is the empty second part
]


async def test_authorization_header_errors(data: Path) -> None:
    async with running(data) as srv:
        good = await srv.token()
        for authorization, message in HEADER_ERRORS:
            headers = {} if authorization is None else {"Authorization": authorization.replace("{jwt}", good)}
            r = await srv.client.post(SECURED, json={"text": "hi"}, headers=headers)
            assert r.status_code == 401, authorization
            assert r.json() == unauthorized(message.replace("{jwt}", good)), authorization


async def test_the_token_is_the_second_space_separated_part_as_in_botpress(data: Path) -> None:
    """`const [scheme, token] = authorization.split(' ')`: what follows a second space is ignored."""
    async with running(data) as srv:
        token = await srv.token()
        r = await srv.client.post(SECURED, json={"text": "hi"}, headers={"Authorization": f"Bearer {token} extra"})
        assert r.status_code == 200


async def test_a_token_issued_a_moment_in_the_future_is_accepted(data: Path) -> None:
    """jsonwebtoken, which checks Botpress's tokens, ignores `iat`: a token from a host whose clock is
    ahead is valid (PyJWT refused it as "not yet valid")."""
    async with running(data) as srv:
        claims = jwt.decode(await srv.token(), SECRET, algorithms=["HS256"], audience="collaborators")
        ahead = jwt.encode({**claims, "iat": int(time.time()) + 30}, SECRET, algorithm="HS256")
        assert (await srv.secured(ahead)).status_code == 200


async def test_refresh_gives_a_new_token_for_a_valid_one(data: Path) -> None:
    """Botpress's `GET /api/v1/auth/refresh` (it was a 404): a valid token buys a new one, and without
    `jwtToken.allowRefresh` the same one comes back."""
    async with running(data) as srv:
        token = await srv.token()
        r = await srv.client.get("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        body = r.json()
        assert (body["status"], body["message"]) == ("success", "Token refreshed successfully")
        assert body["payload"]["newToken"]["exp"] > 0
        assert (await srv.secured(body["payload"]["newToken"]["jwt"])).status_code == 200
        r = await srv.client.get("/api/v1/auth/refresh", headers={"Authorization": "Bearer garbage"})
        assert r.status_code == 401 and r.json() == INVALID_TOKEN
    async with running(data, {"jwtToken": {"allowRefresh": False}}) as srv:
        token = await srv.token()
        r = await srv.client.get("/api/v1/auth/refresh", headers={"Authorization": f"Bearer {token}"})
        assert r.json()["payload"] == {"newToken": token}


async def test_bearer_scheme_is_case_insensitive(data: Path) -> None:
    async with running(data) as srv:
        token = await srv.token()
        for scheme in ("Bearer", "bearer", "BEARER"):
            r = await srv.secured(token, scheme=scheme)
            assert r.status_code == 200, scheme
            assert r.json()["responses"], scheme


async def test_token_expires_after_jwt_duration(data: Path) -> None:
    # 3 s, not 1: on a loaded machine a 1 s token could expire before its first use
    async with running(data, {"jwtToken": {"duration": "3s"}}) as srv:
        r = await srv.login()
        assert r.json()["payload"]["exp"] == 3000
        token = r.json()["payload"]["jwt"]
        assert (await srv.secured(token)).status_code == 200
        exp = jwt.decode(token, SECRET, algorithms=["HS256"], audience="collaborators",
                         options={"verify_exp": False})["exp"]
        await asyncio.sleep(max(0.0, exp - time.time()) + 0.05)
        r = await srv.secured(token)
    assert r.status_code == 401
    assert r.json() == INVALID_TOKEN


async def test_token_of_a_deleted_user_is_refused_even_after_re_creation(data: Path) -> None:
    async with running(data) as srv:
        await srv.add_user("dev@parley.test", "dev-password-1", bots=["*"])
        old = await srv.token("dev@parley.test", "dev-password-1")
        assert (await srv.secured(old)).status_code == 200
        assert await srv.app.state.auth.store.delete_user("dev@parley.test")
        assert (await srv.secured(old)).json() == INVALID_TOKEN
        await srv.add_user("dev@parley.test", "dev-password-2", bots=["*"])
        assert (await srv.secured(old)).json() == INVALID_TOKEN
        assert (await srv.secured(await srv.token("dev@parley.test", "dev-password-2"))).status_code == 200


# ---------------------------------------------------------------------------------- the secured route

STATE_KEYS = {"__stacktrace", "user", "context", "session", "temp"}
DEFAULT_DECISION = {
    "decision": {"reason": "no suggestion matched", "status": "elected"},
    "confidence": 1,
    "payloads": [],
    "source": "decisionEngine",
    "sourceDetails": "execute default flow",
}


async def test_secured_include_returns_the_debug_fields(data: Path) -> None:
    async with running(data) as srv:
        token = await srv.token()
        r = await srv.secured(token, include="nlu,state,suggestions,decision")
        assert r.status_code == 200
        body = r.json()
        assert set(body) == {"responses", "nlu", "state", "suggestions", "decision"}
        texts = [p.get("text") for p in body["responses"]]
        assert "What would you like to know?" in texts
        assert isinstance(body["nlu"], dict) and {"intent", "entities", "slots"} <= set(body["nlu"])
        assert isinstance(body["suggestions"], list)
        assert body["decision"] == DEFAULT_DECISION
        state = body["state"]
        assert STATE_KEYS <= set(state)
        assert state["__stacktrace"] and all(set(f) == {"flow", "node"} for f in state["__stacktrace"])
        assert not any(f["flow"].startswith("skills/") for f in state["__stacktrace"])
        assert state["__stacktrace"][0] == {"flow": "main.flow.json", "node": "entry"}
        assert isinstance(state["session"]["lastMessages"], list) and state["session"]["lastMessages"]
        assert state["context"]["currentFlow"].startswith("skills/choice")
        assert "workflow" not in state
        # The memory moves on across turns: the memory topic asks for a name and remembers it.
        r = await srv.secured(token, {"text": "memory"}, include="state")
        r = await srv.secured(token, {"text": "Grace"}, include="state")
        assert r.json()["state"]["user"] == {"nickname": "Grace"}


INCLUDES: list[tuple[str | None, set[str]]] = [
    (None, {"responses"}),
    ("responses", {"responses"}),
    ("STATE", {"responses", "state"}),
    ("nlu", {"responses", "nlu"}),
    ("decision,suggestions", {"responses", "decision", "suggestions"}),
    ("nlu, state", {"responses", "nlu"}),  # Botpress splits on "," and trims nothing
    ("credentials", {"responses"}),  # no external auth: nothing to show, as in Botpress
    ("unknown", {"responses"}),
    ("", {"responses"}),
]


async def test_secured_include_selects_fields(data: Path) -> None:
    async with running(data) as srv:
        token = await srv.token()
        for include, keys in INCLUDES:
            r = await srv.secured(token, include=include)
            assert r.status_code == 200, include
            assert set(r.json()) == keys, include


ANY_PAYLOADS: list[dict[str, Any]] = [
    {"type": "quick_reply", "text": "x", "payload": "x"},
    {"type": "postback", "payload": "GET_STARTED"},
    {"type": "custom", "data": {"a": [1, 2]}},
    {"text": "hi", "metadata": {"x": 1}, "anything": True},
    {"type": "text", "text": "hi", "includedContexts": ["global"]},
]


async def test_secured_accepts_any_payload_type(data: Path) -> None:
    async with running(data) as srv:
        token = await srv.token()
        for body in ANY_PAYLOADS:
            r = await srv.secured(token, body, include="state")
            assert r.status_code == 200, (body, r.text)
            assert isinstance(r.json()["responses"], list)
            assert STATE_KEYS <= set(r.json()["state"])


async def test_secured_visit_and_typing_events_skip_the_dialog(data: Path) -> None:
    """Botpress's builtin hook keeps session_reset, typing, visit and session_reference events from
    the dialog engine: no answer, an empty decision, and the conversation does not move."""
    async with running(data) as srv:
        token = await srv.token()
        for event_type in ("visit", "typing", "session_reset", "session_reference"):
            r = await srv.secured(token, {"type": event_type}, include="state,decision")
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["responses"] == [] and body["decision"] == {}, event_type
            assert body["state"]["context"] == {} and body["state"]["__stacktrace"] == []
        r = await srv.secured(token, {"text": "hello"}, include="decision")
        assert r.json()["decision"] == DEFAULT_DECISION
        assert "What would you like to know?" in [p.get("text") for p in r.json()["responses"]]


async def test_included_contexts_reach_the_nlu_as_given(data: Path) -> None:
    """`includedContexts || ["global"]`: an empty list stays empty, a missing one is ["global"]."""
    async with running(data) as srv:
        token = await srv.token()
        for given, seen in ((None, ["global"]), ([], []), (["monkeys", "global"], ["monkeys", "global"])):
            body: dict[str, Any] = {"text": "hello"} if given is None else {"text": "hello", "includedContexts": given}
            r = await srv.secured(token, body, include="nlu")
            assert r.json()["nlu"]["includedContexts"] == seen, given


async def test_secured_still_checks_text_length(data: Path) -> None:
    async with running(data) as srv:
        token = await srv.token()
        for body in ({"text": ""}, {"text": "x" * 361}, {"text": 3}, {"type": "", "text": ""}, {"type": None}, [],
                     ["hello"]):
            r = await srv.secured(token, body)
            assert r.status_code == 400, body
            assert r.json() == error_body(400, "VError", "Text must be a valid string of less than 360 chars")


async def test_secured_route_checks_access_to_the_bot(data: Path) -> None:
    async with running(data) as srv:
        await srv.add_user("other@parley.test", "other-password", role="developer", bots=["other"])
        await srv.add_user("dev@parley.test", "dev-password", role="developer", bots=["small-talk", BOT])
        await srv.add_user("viewer@parley.test", "viewer-password", role="viewer", bots=[BOT])
        await srv.add_user("root@parley.test", "root-password", role="viewer", super_admin=True)
        await srv.add_user("all@parley.test", "all-password", role="developer", bots=["*"])
        await srv.add_user("none@parley.test", "none-password", role="admin")

        for email, password in (("other@parley.test", "other-password"), ("none@parley.test", "none-password")):
            r = await srv.secured(await srv.token(email, password), include="state")
            assert r.status_code == 403, email
            assert r.json() == error_body(403, "ForbiddenError", f"Forbidden: you have no access to bot {BOT}",
                                          "BP_0043")
            assert "state" not in r.text
        for email, password in (
            ("dev@parley.test", "dev-password"),
            ("viewer@parley.test", "viewer-password"),
            ("root@parley.test", "root-password"),
            ("all@parley.test", "all-password"),
            (ADMIN, PASSWORD),
        ):
            r = await srv.secured(await srv.token(email, password), include="state")
            assert r.status_code == 200, email
            assert "state" in r.json()


async def test_forbidden_user_does_not_move_the_conversation(data: Path) -> None:
    async with running(data) as srv:
        await srv.add_user("other@parley.test", "other-password", bots=["other"])
        admin = await srv.token()
        outsider = await srv.token("other@parley.test", "other-password")
        first = await srv.secured(admin, include="state")
        assert (await srv.secured(outsider, {"text": "memory"})).status_code == 403
        again = await srv.secured(admin, {"text": "nothing that matches"}, include="state")
    assert first.json()["state"]["context"]["currentFlow"].startswith("skills/choice")
    texts = [p.get("text") for p in again.json()["responses"]]
    assert "Ask me something thats included in the choices. Let's try again." in texts


async def test_unknown_or_disabled_bot_is_404_even_with_a_token(data: Path) -> None:
    async with running(data) as srv:
        token = await srv.token()
        unknown = await srv.secured(token, path="/api/v1/bots/no-such-bot/converse/u1/secured")
        disabled = await srv.secured(token, path="/api/v1/bots/disabled-bot/converse/u1/secured")
    assert unknown.status_code == 404
    assert unknown.json() == error_body(404, "NotFoundError", "Not Found: Invalid Bot ID", "BP_0044")
    assert disabled.status_code == 404
    assert disabled.json() == error_body(404, "NotFoundError", "Not Found: Bot is disabled", "BP_0044")


async def test_secured_token_for_a_user_without_access_to_unknown_bot_is_404(data: Path) -> None:
    async with running(data) as srv:
        await srv.add_user("other@parley.test", "other-password", bots=["other"])
        r = await srv.secured(await srv.token("other@parley.test", "other-password"),
                              path="/api/v1/bots/no-such-bot/converse/u1/secured")
    assert r.status_code == 404


# ------------------------------------------------------------------------------------------ private


def make_private(data: Path, bot_id: str = BOT) -> None:
    path = data / "bots" / bot_id / "bot.config.json"
    cfg = json.loads(path.read_text())
    cfg["private"] = True
    path.write_text(json.dumps(cfg))


async def test_private_bot_needs_a_token_on_the_public_route(data: Path) -> None:
    make_private(data)
    async with running(data) as srv:
        await srv.add_user("other@parley.test", "other-password", bots=["other"])
        missing = await srv.client.post(PUBLIC, json={"text": "hi"})
        garbage = await srv.client.post(PUBLIC, json={"text": "hi"}, headers={"Authorization": "Bearer garbage"})
        outsider = await srv.client.post(PUBLIC, json={"text": "hi"}, headers={
            "Authorization": f"Bearer {await srv.token('other@parley.test', 'other-password')}"})
        ok = await srv.client.post(PUBLIC, json={"text": "hi"},
                                   headers={"Authorization": f"Bearer {await srv.token()}"})
        # Other bots stay public.
        other = await srv.client.post("/api/v1/bots/empty-bot/converse/u1", json={"text": "hi"})
    assert missing.status_code == 401 and missing.json() == unauthorized("Authorization header is missing")
    assert garbage.status_code == 401 and garbage.json() == INVALID_TOKEN
    assert outsider.status_code == 403
    assert ok.status_code == 200 and set(ok.json()) == {"responses"} and ok.json()["responses"]
    assert other.status_code == 200


async def test_private_bot_public_route_still_validates_the_body(data: Path) -> None:
    make_private(data)
    async with running(data) as srv:
        token = await srv.token()
        r = await srv.client.post(PUBLIC, json={"type": "postback", "text": "x"},
                                  headers={"Authorization": f"Bearer {token}"})
        include = await srv.client.post(PUBLIC, json={"text": "hi"}, params={"include": "state"},
                                        headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400
    assert include.status_code == 403


# --------------------------------------------------------------------------------------- throttling


async def test_failed_logins_are_throttled_per_email(data: Path) -> None:
    async with running(data) as srv:
        for _ in range(5):
            assert (await srv.login(password="wrong-password")).json() == INVALID_CREDENTIALS
        r = await srv.login()  # the right password, but too late
        assert r.status_code == 429
        retry = int(r.headers["Retry-After"])
        assert 0 < retry <= 300
        assert r.json()["statusCode"] == 429 and "jwt" not in r.text
        assert (await srv.login(password="wrong-password")).status_code == 429
        # Another email from the same client is not blocked by this one.
        await srv.add_user("dev@parley.test", "dev-password", bots=["*"])
        assert (await srv.login("dev@parley.test", "wrong-password")).json() == INVALID_CREDENTIALS
        assert (await srv.login("dev@parley.test", "dev-password")).status_code == 200
        # Upper case does not bypass the counter: the email is the same.
        assert (await srv.login(ADMIN.upper())).status_code == 429


async def test_failed_logins_are_throttled_per_client(data: Path) -> None:
    async with running(data) as srv:
        for i in range(20):
            r = await srv.login(f"user{i // 4}@parley.test", "wrong-password")
            assert r.json() == INVALID_CREDENTIALS, i
        r = await srv.login()
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        # Another client address is not blocked, for this email.
        async with srv.client_from("10.1.2.3") as other:
            ok = await other.post(LOGIN, json={"email": ADMIN, "password": PASSWORD})
        assert ok.status_code == 200


async def test_success_resets_the_email_counter(data: Path) -> None:
    async with running(data) as srv:
        for _ in range(2):
            for _ in range(4):
                assert (await srv.login(password="wrong-password")).json() == INVALID_CREDENTIALS
            assert (await srv.login()).status_code == 200


async def test_concurrent_failed_logins_cannot_outrun_the_throttle(data: Path) -> None:
    async with running(data) as srv:
        answers = await asyncio.gather(*(srv.login(password=f"wrong-{i}") for i in range(20)))
    statuses = [r.status_code for r in answers]
    assert statuses.count(400) <= 5, statuses
    assert statuses.count(429) >= 15


# --------------------------------------------------------------------------------- storage and secret


async def test_password_is_stored_as_argon2id(real_data: Path) -> None:
    async with running(real_data) as srv:
        await srv.add_user("dev@parley.test", "dev-password", bots=["*"])
        assert (await srv.login("dev@parley.test", "dev-password")).status_code == 200
        rows = await srv.sql(lambda db: db.execute("SELECT email, password_hash FROM collaborators").fetchall())
    assert len(rows) == 2
    assert rows[0][1] != rows[1][1]
    for email, hashed in rows:
        assert hashed.startswith("$argon2id$v=19$"), email
        assert PASSWORD not in hashed and "dev-password" not in hashed
        params = dict(p.split("=") for p in hashed.split("$")[3].split(","))
        assert int(params["m"]) >= 19456 and int(params["t"]) >= 2, params  # OWASP's argon2id minimum


async def test_unknown_email_is_verified_against_a_dummy_hash(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both an unknown email and a wrong password cost one argon2 verification (no timing oracle)."""
    calls: list[str | None] = []
    real = passwords.verify_password

    def spy(stored: str | None, password: str) -> bool:
        calls.append(stored)
        return real(stored, password)

    monkeypatch.setattr(service, "verify_password", spy)
    async with running(data) as srv:
        assert (await srv.login("nobody@parley.test", PASSWORD)).json() == INVALID_CREDENTIALS
        assert (await srv.login(ADMIN, "wrong-password")).json() == INVALID_CREDENTIALS
    assert len(calls) == 2
    assert calls[0] is None and calls[1] is not None and calls[1].startswith("$argon2id$")
    # The dummy hash itself never lets anyone in, whatever the password.
    assert not passwords.verify_password(None, "parley: no such user")


async def test_generated_secret_is_private_and_reused(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_SECRET")
    async with running(data) as srv:
        token = await srv.token()
    secret_file = data / ".parley-secret"
    assert secret_file.is_file()
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32
    jwt.decode(token, secret, algorithms=["HS256"], audience="collaborators")
    async with running(data) as srv:  # a restart: the same key, so the token still works
        assert (await srv.secured(token)).status_code == 200
    assert secret_file.read_text().strip() == secret
    # PARLEY_SECRET wins over the file: the token signed with the file's key is refused.
    monkeypatch.setenv("PARLEY_SECRET", SECRET)
    async with running(data) as srv:
        assert (await srv.secured(token)).json() == INVALID_TOKEN


async def test_empty_secret_file_is_replaced(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_SECRET")
    (data / ".parley-secret").write_text("")
    async with running(data) as srv:
        token = await srv.token()
    secret = (data / ".parley-secret").read_text().strip()
    assert len(secret) >= 32
    jwt.decode(token, secret, algorithms=["HS256"], audience="collaborators")
    with pytest.raises(jwt.PyJWTError):
        jwt.decode(token, "", algorithms=["HS256"], audience="collaborators")


def test_workers_starting_together_agree_on_one_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_SECRET", raising=False)
    barrier = threading.Barrier(8)

    def start() -> str:
        barrier.wait()
        return tokens.load_or_create_secret(tmp_path / "data")

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: start(), range(8)))
    assert len(set(keys)) == 1 and keys[0]
    assert (tmp_path / "data" / ".parley-secret").read_text() == keys[0]
    assert [p.name for p in (tmp_path / "data").iterdir()] == [".parley-secret"]  # no temporary file left


def test_readable_secret_file_is_restricted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_SECRET", raising=False)
    path = tmp_path / ".parley-secret"
    path.write_text("k" * 64)
    path.chmod(0o644)
    assert tokens.load_or_create_secret(tmp_path) == "k" * 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ------------------------------------------------------------------------------------- parley users


def users_cli(data: Path, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    cmd = [sys.executable, "-m", "parley", "users", *args, "--data", str(data)]
    proc = subprocess.run(cmd, input=(password + "\n") if password is not None else "", capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=60)
    if password:
        assert password not in " ".join(cmd)
        assert password not in proc.stdout and password not in proc.stderr
    return proc


def cli_settings(data: Path) -> Settings:
    return Settings(data_dir=data, database_url=f"sqlite:///{data / 'storage' / 'parley.sqlite'}", watch=False,
                    nlu_enabled=False)


@asynccontextmanager
async def running_cli_db(data: Path) -> AsyncIterator[Running]:
    app = create_app(cli_settings(data))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Running(app, client, data)


async def test_users_cli_lifecycle(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_ADMIN_EMAIL")
    email, first, second = "Ops@Parley.test", "first-Passw0rd", "second-Passw0rd"
    created = users_cli(data, "create", email, "--role", "admin", "--bots", BOT, password=first)
    assert created.returncode == 0, created.stderr
    assert "ops@parley.test" in created.stdout
    assert users_cli(data, "create", email, password=first).returncode == 1  # already exists

    listed = users_cli(data, "list")
    before = subprocess.run([sys.executable, "-m", "parley", "users", "--data", str(data), "list"],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert before.returncode == 0 and before.stdout == listed.stdout
    assert listed.returncode == 0 and "ops@parley.test" in listed.stdout and "admin" in listed.stdout
    db = sqlite3.connect(data / "storage" / "parley.sqlite")
    try:
        (hashed,) = db.execute("SELECT password_hash FROM collaborators WHERE email='ops@parley.test'").fetchone()
    finally:
        db.close()
    assert hashed.startswith("$argon2id$") and hashed not in listed.stdout

    async with running_cli_db(data) as srv:
        old = await srv.token("ops@parley.test", first)
        assert (await srv.secured(old)).status_code == 200

        changed = users_cli(data, "set-password", email, password=second)
        assert changed.returncode == 0, changed.stderr
        assert (await srv.secured(old)).json() == INVALID_TOKEN
        assert (await srv.login("ops@parley.test", first)).json() == INVALID_CREDENTIALS
        new = await srv.token("ops@parley.test", second)
        assert (await srv.secured(new)).status_code == 200

        revoked = users_cli(data, "revoke", email)
        assert revoked.returncode == 0, revoked.stderr
        assert (await srv.secured(new)).json() == INVALID_TOKEN
        newest = await srv.token("ops@parley.test", second)
        assert (await srv.secured(newest)).status_code == 200

        deleted = users_cli(data, "delete", email)
        assert deleted.returncode == 0, deleted.stderr
        assert (await srv.secured(newest)).json() == INVALID_TOKEN
        assert (await srv.login("ops@parley.test", second)).json() == INVALID_CREDENTIALS
    assert "ops@parley.test" not in users_cli(data, "list").stdout
    assert users_cli(data, "delete", email).returncode == 1


def test_users_cli_refuses_passwords_in_argv_and_short_ones(data: Path) -> None:
    in_argv = users_cli(data, "create", "x@parley.test", "--password", "secret-in-argv")
    assert in_argv.returncode == 2  # argparse: no such option
    short = users_cli(data, "create", "x@parley.test", password="short")
    assert short.returncode == 1 and "8 characters" in short.stderr
    assert "x@parley.test" not in users_cli(data, "list").stdout


# --------------------------------------------------------------------------------------------- logs


async def test_nothing_secret_is_logged(data: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(data) as srv:
        token = await srv.token()
        assert (await srv.login(password="wrong-Passw0rd-secret")).status_code == 400
        assert (await srv.login("nobody@parley.test", "nobody-Passw0rd-secret")).status_code == 400
        assert (await srv.secured(token, include="state")).status_code == 200
        assert (await srv.secured(token + "x")).status_code == 401
        assert (await srv.secured(token, scheme="Basic")).status_code == 401
        rows = await srv.sql(lambda db: db.execute("SELECT password_hash FROM collaborators").fetchall())
    text = caplog.text
    assert f"created the first admin user {ADMIN}" in text  # the capture works
    for secret in (PASSWORD, "wrong-Passw0rd-secret", "nobody-Passw0rd-secret", token, rows[0][0], SECRET):
        assert secret not in text
    # The signature part alone must not leak either.
    assert token.split(".")[2] not in text


def test_real_server_logs_no_secret_at_debug(tmp_path: Path) -> None:
    """The whole process (uvicorn included) at DEBUG: still no password, hash or token in its output."""
    shared_or_skip()
    data = make_template_data(tmp_path)
    server = start_server(data, tmp_path / "server.log", env={"PARLEY_LOG_LEVEL": "DEBUG", "PARLEY_SECRET": SECRET})
    try:
        with httpx.Client(base_url=server.base, timeout=30) as client:
            ok = client.post(LOGIN, json={"email": ADMIN, "password": PASSWORD})
            token = ok.json()["payload"]["jwt"]
            assert client.post(LOGIN, json={"email": ADMIN, "password": "wrong-Passw0rd-secret"}).status_code == 400
            assert client.post(SECURED, json={"text": "hi"}, headers={"Authorization": f"Bearer {token}"},
                               params={"include": "state"}).status_code == 200
            assert client.post(SECURED, json={"text": "hi"}, headers={"Authorization": f"Bearer {token}x"}
                               ).status_code == 401
    finally:
        stop_server(server)
    db = sqlite3.connect(data / "storage" / "parley.sqlite")
    try:
        (hashed,) = db.execute("SELECT password_hash FROM collaborators").fetchone()
    finally:
        db.close()
    text = (tmp_path / "server.log").read_text()
    assert "created the first admin user" in text
    for secret in (PASSWORD, "wrong-Passw0rd-secret", token, token.split(".")[2], hashed, SECRET):
        assert secret not in text



async def test_users_update_changes_which_bots_a_user_may_open(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_ADMIN_EMAIL")
    email, password = "dev@parley.test", "dev-Passw0rd!"
    assert users_cli(data, "create", email, "--role", "developer", password=password).returncode == 0
    async with running_cli_db(data) as srv:
        token = await srv.token(email, password)
        assert (await srv.secured(token)).status_code == 403  # no bot yet
        updated = users_cli(data, "update", email, "--bots", BOT, "--role", "viewer")
        assert updated.returncode == 0, updated.stderr
        assert "viewer" in updated.stdout and BOT in updated.stdout
        assert (await srv.secured(token)).status_code == 200  # same token: access is read at each request
        assert users_cli(data, "update", email, "--bots", "other-bot").returncode == 0
        assert (await srv.secured(token)).status_code == 403
        assert users_cli(data, "update", email, "--superadmin").returncode == 0
        assert (await srv.secured(token)).status_code == 200
    assert users_cli(data, "update", "nobody@parley.test", "--role", "admin").returncode == 1
