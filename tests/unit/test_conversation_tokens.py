"""Conversation tokens never expire, so their bytes must never change: a token handed out before an
upgrade keeps opening its conversation after it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from parley.security.tokens import check_conversation_token, conversation_token


def reference_token(secret: str, bot_id: str, user_id: str) -> str:
    """How the first release made them."""
    key = hmac.new(secret.encode(), b"parley conversation token", hashlib.sha256).digest()
    mac = hmac.new(key, json.dumps([bot_id, user_id]).encode(), hashlib.sha256).digest()
    return "ct1." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


@pytest.mark.parametrize(("bot_id", "user_id"), [
    ("pizza-bot", "ada"), ("bot", 'quote " and \\ backslash'), ("bøt", "ünïcödé 😀"), ("b", ""),
])
def test_tokens_are_the_same_bytes_as_ever(bot_id: str, user_id: str) -> None:
    for secret in ("s3cret", "another secret"):
        token = conversation_token(secret, bot_id, user_id)
        assert token == reference_token(secret, bot_id, user_id)
        assert check_conversation_token(secret, bot_id, user_id, token)
        assert not check_conversation_token(secret, bot_id, user_id + "x", token)
