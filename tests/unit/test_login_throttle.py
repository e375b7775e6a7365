"""Failed logins are counted per email and per client; with Redis, every worker shares the counts."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from parley.security.passwords import hash_password
from parley.security.service import MAX_FAILURES_PER_EMAIL, Auth, InvalidCredentials, LoginThrottled
from parley.security.throttle import LocalWindow
from parley.security.users import User

REDIS_URL = os.environ.get("PARLEY_TEST_REDIS_URL")
PASSWORD = "right-Passw0rd"
SECRET = "a-test-signing-key-that-is-long-enough-for-hs256"


class Users:
    def __init__(self, email: str) -> None:
        self.users = {email: User(email, hash_password(PASSWORD), "admin", True, ["*"])}

    async def get_user(self, email: str) -> User | None:
        return self.users.get(email)

    async def put_user(self, user: User) -> None:
        self.users[user.email] = user

    async def create_first_user(self, user: User) -> bool:
        return False


async def fail(auth: Auth, email: str, client: str) -> str:
    try:
        await auth.login(email, "wrong-password", client)
    except InvalidCredentials:
        return "invalid"
    except LoginThrottled:
        return "throttled"
    return "ok"


async def test_two_workers_share_the_failed_logins_through_redis() -> None:
    if not REDIS_URL:
        pytest.skip("PARLEY_TEST_REDIS_URL is not set (no Redis)")
    email = f"ops-{uuid.uuid4().hex[:8]}@parley.test"
    users = Users(email)
    workers = [Auth(users, SECRET, redis_url=REDIS_URL) for _ in range(2)]
    try:
        # failures alternate between the workers: together they reach the limit
        results = [await fail(workers[i % 2], email, f"10.0.0.{i}") for i in range(MAX_FAILURES_PER_EMAIL)]
        assert results == ["invalid"] * MAX_FAILURES_PER_EMAIL
        for w in workers:
            with pytest.raises(LoginThrottled) as blocked:
                await w.login(email, PASSWORD, "10.0.0.99")  # the right password, too late, on either worker
            assert 0 < blocked.value.retry_after <= 301
    finally:
        for w in workers:
            await w.by_email.clear(email)
            await w.close()


async def test_a_success_takes_its_attempt_back_through_redis() -> None:
    if not REDIS_URL:
        pytest.skip("PARLEY_TEST_REDIS_URL is not set (no Redis)")
    email = f"dev-{uuid.uuid4().hex[:8]}@parley.test"
    client = f"10.9.{uuid.uuid4().int % 250}.1"
    auth = Auth(Users(email), SECRET, redis_url=REDIS_URL)
    try:
        for _ in range(3):
            for _ in range(MAX_FAILURES_PER_EMAIL - 1):
                assert await fail(auth, email, client) == "invalid"
            token, _ = await auth.login(email, PASSWORD, client)  # resets the email's count
            assert token
    finally:
        await auth.by_email.clear(email)
        await auth.by_client.clear(client)
        await auth.close()


async def test_concurrent_guesses_cannot_outrun_the_local_window() -> None:
    window = LocalWindow(limit=5, seconds=300)
    results = await asyncio.gather(*(window.try_add("k", 1000.0) for _ in range(20)))
    assert sum(1 for wait, _ in results if wait == 0) == 5
    wait, _ = await window.try_add("k", 1000.0 + 299)
    assert wait == pytest.approx(1.0)
    assert (await window.try_add("k", 1000.0 + 300))[0] == 0  # the first ones fell out of the window
