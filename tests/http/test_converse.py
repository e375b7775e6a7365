"""The public Converse route in-process: error shapes, answer shape, per-user ordering.

Each test builds its own data folder under tmp_path and runs the real app (with its lifespan) behind
httpx's ASGI transport, so what is asserted is exactly what an HTTP client would receive.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from parley.http.app import create_app
from parley.settings import Settings
from parley.store.base import ConversationKey
from tests.conftest import EXAMPLES, until

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
DOCS = "https://botpress.com/docs"

# ------------------------------------------------------------------------------------------- helpers


def make_data(tmp_path: Path, global_config: dict[str, Any] | None = None) -> Path:
    data = tmp_path / "data"
    (data / "bots").mkdir(parents=True)
    (data / "global").mkdir()
    (data / "global" / "botpress.config.json").write_text(json.dumps(global_config or {}))
    return data


def copy_pizza(data: Path, bot_id: str = "pizza-bot", config: dict[str, Any] | None = None) -> Path:
    folder = data / "bots" / bot_id
    shutil.copytree(EXAMPLES / "bots" / "pizza-bot", folder)
    cfg_path = folder / "bot.config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["id"] = bot_id
    cfg.update(config or {})
    cfg_path.write_text(json.dumps(cfg))
    return folder


def node(name: str, on_enter: list[str], *, next_node: str | None = "END",
         on_receive: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": f"node-{name}",
        "name": name,
        "onEnter": on_enter,
        "onReceive": on_receive,
        "next": [{"condition": "true", "node": next_node}] if next_node else [],
    }


def write_bot(
    data: Path,
    bot_id: str,
    *,
    nodes: list[dict[str, Any]] | None = None,
    texts: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    actions: dict[str, str] | None = None,
    flows: dict[str, list[dict[str, Any]]] | None = None,
) -> Path:
    """A small bot: `nodes` make main.flow.json (first node starts), `texts` are builtin_text elements
    (id -> text, with typing), `actions` are Python action modules (name -> source)."""
    folder = data / "bots" / bot_id
    (folder / "flows").mkdir(parents=True)
    (folder / "content-elements").mkdir()
    cfg = {"id": bot_id, "name": bot_id, "defaultLanguage": "en", "languages": ["en"], **(config or {})}
    (folder / "bot.config.json").write_text(json.dumps(cfg, indent=2))
    all_flows = {"main": nodes or [node("entry", ["say #!builtin_text-hello"])], **(flows or {})}
    for name, flow_nodes in all_flows.items():
        flow = {"version": "0.0.1", "startNode": flow_nodes[0]["name"], "catchAll": {}, "nodes": flow_nodes}
        (folder / "flows" / f"{name}.flow.json").write_text(json.dumps(flow, indent=2))
    elements = [
        {"id": f"builtin_text-{key}", "formData": {"text$en": text, "typing$en": True}}
        for key, text in (texts or {"hello": "Hello!"}).items()
    ]
    (folder / "content-elements" / "builtin_text.json").write_text(json.dumps(elements, indent=2))
    if actions:
        (folder / "actions").mkdir()
        for name, source in actions.items():
            (folder / "actions" / f"{name}.py").write_text(source)
    return folder


def counter_bot(data: Path, bot_id: str = "counter") -> Path:
    return write_bot(
        data,
        bot_id,
        nodes=[node("entry", ['builtin/incrementNumberOfConversations {"output":"n"}', "say #!builtin_text-count"])],
        texts={"count": "{{temp.n}}"},
    )


def settings_for(data: Path, **env: str) -> Settings:
    return Settings.from_env(data, env={"PARLEY_NLU": "off", "PARLEY_WATCH": "off", **env})


@asynccontextmanager
async def serve(data: Path, **env: str) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    app = create_app(settings_for(data, **env))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://parley.test", timeout=30) as client:
            yield client, app


def converse_url(bot_id: str, user_id: str) -> str:
    return f"/api/v1/bots/{bot_id}/converse/{user_id}"


async def say(client: httpx.AsyncClient, bot_id: str, user_id: str, text: str) -> list[str]:
    """Send one message; return the texts of the answer (typing entries left out)."""
    r = await client.post(converse_url(bot_id, user_id), json={"text": text})
    assert r.status_code == 200, r.text
    return [p.get("text", "") for p in r.json()["responses"] if p["type"] != "typing"]


def assert_api_error(r: httpx.Response, status: int, type_: str, message: str, error_code: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == JSON_TYPE
    body = r.json()
    expected: dict[str, Any] = {"statusCode": status}
    if error_code:
        expected["errorCode"] = error_code
    expected.update({"type": type_, "message": message, "details": "", "docs": DOCS})
    assert body == expected
    assert list(body) == list(expected), "key order follows Botpress"


def assert_plain(r: httpx.Response, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == HTML_TYPE
    assert r.text == text


# ------------------------------------------------------------------------------------ the server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """One server with a good bot, a disabled one, a private one, a broken one and a closed one."""
    data = make_data(tmp_path, {"converse": {"maxMessageLength": 100}, "httpServer": {"bodyLimit": "4kb"}})
    copy_pizza(data)
    write_bot(data, "hello")
    write_bot(data, "emoji", config={"converse": {"maxMessageLength": 360}})
    write_bot(data, "off", config={"disabled": True})
    write_bot(data, "secret", config={"private": True})
    write_bot(data, "closed", config={"converse": {"enableUnsecuredEndpoint": False}})
    broken = write_bot(data, "broken")
    bad_flow = '{\n  "version": "0.0.1",\n  "startNode": "entry",\n  "nodes": [,]\n}\n'
    (broken / "flows" / "main.flow.json").write_text(bad_flow)
    broken_off = write_bot(data, "broken-off", config={"disabled": True})
    (broken_off / "flows" / "main.flow.json").write_text(bad_flow)
    async with serve(data) as (client, _):
        yield client


# ------------------------------------------------------------------------------------------ errors


async def test_unknown_bot_is_404_bp_0044(server: httpx.AsyncClient) -> None:
    r = await server.post(converse_url("no-such-bot", "u1"), json={"text": "hi"})
    assert_api_error(r, 404, "NotFoundError", "Not Found: Invalid Bot ID", "BP_0044")


@pytest.mark.parametrize("bot_id", ["off", "broken-off"])
async def test_disabled_bot_is_404(server: httpx.AsyncClient, bot_id: str) -> None:
    r = await server.post(converse_url(bot_id, "u1"), json={"text": "hi"})
    assert_api_error(r, 404, "NotFoundError", "Not Found: Bot is disabled", "BP_0044")


async def test_broken_bot_is_503_naming_file_and_line_while_others_answer(server: httpx.AsyncClient) -> None:
    r = await server.post(converse_url("broken", "u1"), json={"text": "hi"})
    assert r.status_code == 503
    assert r.headers["content-type"] == JSON_TYPE
    body = r.json()
    assert body["statusCode"] == 503
    assert "broken/flows/main.flow.json:4:" in body["message"], body["message"]
    assert "invalid JSON" in body["message"]
    assert r.headers.get("retry-after")
    ok = await server.post(converse_url("hello", "u1"), json={"text": "hi"})
    assert ok.status_code == 200
    assert ok.json()["responses"][-1]["text"] == "Hello!"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"text":', "Unexpected end of JSON input"),
        (b'{"text": "hi"', "Unexpected end of JSON input"),
        (b'{"text": hi}', "Unexpected token h in JSON at position 9"),
        (b'"hi"', 'Unexpected token " in JSON at position 0'),
        (b"42", "Unexpected token 4 in JSON at position 0"),
    ],
)
async def test_malformed_json_is_400_entity_parse_failed(server: httpx.AsyncClient, body: bytes, message: str) -> None:
    r = await server.post(converse_url("hello", "u1"), content=body, headers={"content-type": "application/json"})
    assert_api_error(r, 400, "entity.parse.failed", message)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], '"value" must be an object'),
        ([{"text": "hi"}], '"value" must be an object'),
        ({}, 'child "text" fails because ["text" is required]'),
        ({"text": ""}, 'child "text" fails because ["text" is not allowed to be empty]'),
        ({"text": 5}, 'child "text" fails because ["text" must be a string]'),
        ({"text": None}, 'child "text" fails because ["text" must be a string]'),
        ({"text": "hi", "type": "quick_reply"}, 'child "type" fails because ["type" must be one of [text]]'),
        ({"text": "hi", "type": 1}, 'child "type" fails because ["type" must be a string]'),
        ({"text": "hi", "type": ""}, 'child "type" fails because ["type" is not allowed to be empty]'),
        ({"text": "hi", "includedContexts": ["global", ""]},
         'child "includedContexts" fails because '
         '["includedContexts" at position 1 fails because ["1" is not allowed to be empty]]'),
        ({"text": "hi", "includedContexts": "global"},
         'child "includedContexts" fails because ["includedContexts" must be an array]'),
        ({"text": "hi", "includedContexts": [1]},
         'child "includedContexts" fails because '
         '["includedContexts" at position 0 fails because ["0" must be a string]]'),
        ({"text": "hi", "metadata": []}, 'child "metadata" fails because ["metadata" must be an object]'),
        ({"text": "hi", "payload": {}}, '"payload" is not allowed'),
        ({"text": "hi", "</script>": 1}, '"&lt;&#x2F;script&gt;" is not allowed'),
    ],
)
async def test_invalid_body_is_400_invalid_payload(server: httpx.AsyncClient, body: Any, reason: str) -> None:
    r = await server.post(converse_url("hello", "u1"), json=body)
    assert_api_error(r, 400, "StandardError", "Invalid payload: " + reason)


async def test_body_that_is_not_json_counts_as_empty(server: httpx.AsyncClient) -> None:
    r = await server.post(converse_url("hello", "u1"), content=b"hi", headers={"content-type": "text/plain"})
    assert_api_error(r, 400, "StandardError", 'Invalid payload: child "text" fails because ["text" is required]')


async def test_form_encoded_body_is_accepted(server: httpx.AsyncClient) -> None:
    r = await server.post(converse_url("hello", "u1"), data={"text": "hi"})
    assert r.status_code == 200
    assert r.json()["responses"][-1]["text"] == "Hello!"


async def test_global_max_message_length_applies(server: httpx.AsyncClient) -> None:
    ok = await server.post(converse_url("hello", "u1"), json={"text": "a" * 100})
    assert ok.status_code == 200
    r = await server.post(converse_url("hello", "u1"), json={"text": "a" * 101})
    assert_api_error(r, 400, "VError", "Text must be a valid string of less than 100 chars")


async def test_bot_max_message_length_overrides_global_and_counts_utf16(server: httpx.AsyncClient) -> None:
    ok = await server.post(converse_url("emoji", "u1"), json={"text": "😀" * 180})
    assert ok.status_code == 200, ok.text
    r = await server.post(converse_url("emoji", "u1"), json={"text": "😀" * 181})
    assert_api_error(r, 400, "VError", "Text must be a valid string of less than 360 chars")
    ok = await server.post(converse_url("emoji", "u1"), json={"text": "é" * 360})
    assert ok.status_code == 200


async def test_body_over_limit_is_413(server: httpx.AsyncClient) -> None:
    big = {"text": "hi", "metadata": {"blob": "x" * 5000}}
    r = await server.post(converse_url("hello", "u1"), json=big)
    assert_api_error(r, 413, "entity.too.large", "request entity too large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit is enforced while reading
        yield b'{"text": "hi", "metadata": {"blob": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}}'

    r = await server.post(converse_url("hello", "u1"), content=chunks(), headers={"content-type": "application/json"})
    assert_api_error(r, 413, "entity.too.large", "request entity too large")
    ok = await server.post(converse_url("hello", "u1"), json={"text": "hi", "metadata": {"blob": "x" * 3000}})
    assert ok.status_code == 200


async def test_a_body_sent_in_pieces_is_read_whole(server: httpx.AsyncClient) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in (b'{"te', b'xt": "h', b"", b'i"}'):
            yield piece

    whole = await server.post(converse_url("hello", "whole"), json={"text": "hi"})
    split = await server.post(converse_url("hello", "split"), content=pieces(),
                              headers={"content-type": "application/json"})
    assert split.status_code == 200
    assert split.json() == whole.json()


async def test_include_other_than_responses_is_403_text(server: httpx.AsyncClient) -> None:
    for include in ("nlu", "responses,state", "decision"):
        r = await server.post(converse_url("hello", "u1") + f"?include={include}", json={"text": "hi"})
        assert_plain(r, 403, 'Unauthenticated converse API can only return "responses"')
    r = await server.post(converse_url("hello", "u1") + "?include=Responses", json={"text": "hi"})
    assert r.status_code == 200
    assert set(r.json()) == {"responses"}


async def test_bot_with_unsecured_endpoint_off_is_403_text(server: httpx.AsyncClient) -> None:
    r = await server.post(converse_url("closed", "u1"), json={"text": "hi"})
    assert_plain(r, 403, "Unauthenticated Converse API is disabled for closed")


async def test_unsecured_endpoint_off_globally_is_403_text(tmp_path: Path) -> None:
    data = make_data(tmp_path, {"converse": {"enableUnsecuredEndpoint": False}})
    write_bot(data, "hello")
    async with serve(data) as (client, _):
        r = await client.post(converse_url("hello", "u1"), json={"text": "hi"})
        assert_plain(r, 403, "Unauthenticated Converse API is disabled for all bots")
        unknown = await client.post(converse_url("nobody", "u1"), json={"text": "hi"})
        assert unknown.status_code == 404


async def test_private_bot_is_401(server: httpx.AsyncClient) -> None:
    r = await server.post(converse_url("secret", "u1"), json={"text": "hi"})
    assert_api_error(r, 401, "UnauthorizedError", "Unauthorized: Authorization header is missing", "BP_0041")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_other_methods_get_express_404_page(server: httpx.AsyncClient, method: str) -> None:
    path = converse_url("hello", "u1")
    r = await server.request(method, path)
    assert r.status_code == 404
    assert r.headers["content-type"] == HTML_TYPE
    assert f"<pre>Cannot {method} {path}</pre>" in r.text


async def test_unknown_route_gets_express_404_page(server: httpx.AsyncClient) -> None:
    r = await server.post("/api/v1/nothing-here", json={"text": "hi"})
    assert r.status_code == 404
    assert "<pre>Cannot POST /api/v1/nothing-here</pre>" in r.text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("\u00a0".encode(), "Unexpected token \u00a0 in JSON at position 0"),
        (b"  hi", "Unexpected token h in JSON at position 2"),
        (b"\x0c{}", "Unexpected token \x0c in JSON at position 0"),
    ],
)
async def test_bodies_starting_with_odd_characters_are_400(server: httpx.AsyncClient, raw: bytes,
                                                            message: str) -> None:
    r = await server.post(converse_url("hello", "u1"), content=raw, headers={"content-type": "application/json"})
    assert_api_error(r, 400, "entity.parse.failed", message)


async def test_json_with_a_byte_order_mark_is_accepted(server: httpx.AsyncClient) -> None:
    raw = b'\xef\xbb\xbf{"text": "hi"}'
    r = await server.post(converse_url("hello", "u1"), content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 200
    assert r.json()["responses"][-1]["text"] == "Hello!"
    only_bom = await server.post(converse_url("hello", "u1"), content=b"\xef\xbb\xbf",
                                 headers={"content-type": "application/json"})
    assert_api_error(only_bom, 400, "StandardError", 'Invalid payload: child "text" fails because ["text" is required]')


async def test_a_trailing_slash_reaches_the_same_route(server: httpx.AsyncClient) -> None:
    r = await server.post(converse_url("hello", "u1") + "/", json={"text": "hi"})
    assert r.status_code == 200
    assert r.json()["responses"][-1]["text"] == "Hello!"
    assert (await server.get("/status/")).status_code == 200
    missing = await server.post("/api/v1/nothing/", json={"text": "hi"})
    assert missing.status_code == 404
    assert "<pre>Cannot POST /api/v1/nothing/</pre>" in missing.text


async def test_the_404_page_shows_the_path_as_sent_and_never_as_markup(server: httpx.AsyncClient) -> None:
    """Express's finalhandler: the path as sent, through encodeurl and escape-html."""
    r = await server.get("/api/v1/nothing%20here")
    assert r.status_code == 404 and "<pre>Cannot GET /api/v1/nothing%20here</pre>" in r.text
    r = await server.get("/x%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<pre>Cannot GET /x%3Cscript%3Ealert(1)%3C/script%3E</pre>" in r.text and "<script>" not in r.text
    r = await server.get("/it's")
    assert "<pre>Cannot GET /it&#39;s</pre>" in r.text
    # the bot of an /api/v1/bots/<id>/ path is the decoded id: "hello/x" is no bot, though "hello" is
    r = await server.post("/api/v1/bots/hello%2Fx/nothing", json={"text": "hi"})
    assert_api_error(r, 404, "NotFoundError", "Not Found: Invalid Bot ID", "BP_0044")


async def test_the_configured_headers_go_on_every_answer(tmp_path: Path) -> None:
    """httpServer.headers (Botpress writes {"X-Powered-By": "Botpress"} into a new botpress.config.json)."""
    headers = {"X-Powered-By": "Botpress", "X-Frame-Options": "DENY", "Content-Type": "text/plain",
               "Bad Name": "x", "X-Split": "a\r\nSet-Cookie: y"}
    data = make_data(tmp_path, {"httpServer": {"headers": headers}})
    write_bot(data, "hello")
    async with serve(data) as (client, _):
        answers = [
            await client.post(converse_url("hello", "u1"), json={"text": "hi"}),  # the direct converse path
            await client.post(converse_url("hello", "u1"), json={"text": "hi"}, headers={"Origin": "https://a.b"}),
            await client.get("/status"),
            await client.post(converse_url("nobody", "u1"), json={"text": "hi"}),  # 404 BP_0044
            await client.get("/nothing"),  # Express's 404 page
        ]
        for r in answers:
            assert r.headers["x-powered-by"] == "Botpress" and r.headers["x-frame-options"] == "DENY", r.request.url
            assert r.headers["content-type"] != "text/plain", "a route's own header wins"
            assert "x-split" not in r.headers and "set-cookie" not in r.headers
        assert answers[0].json()["responses"][-1]["text"] == "Hello!"
    data2 = make_data(tmp_path / "plain")
    write_bot(data2, "hello")
    async with serve(data2) as (client, _):
        assert "x-powered-by" not in (await client.post(converse_url("hello", "u1"), json={"text": "hi"})).headers


async def test_the_global_rate_limit_counts_every_route_per_client_address(tmp_path: Path) -> None:
    """httpServer.rateLimit, Botpress's express-rate-limit: a limit per client address over all routes."""
    data = make_data(tmp_path, {"httpServer": {"rateLimit": {"enabled": True, "limit": 3, "limitWindow": "1m"}}})
    write_bot(data, "hello")
    async with serve(data) as (client, app):
        first = await client.post(converse_url("hello", "u1"), json={"text": "hi"})
        assert first.status_code == 200
        assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("3", "2")
        assert 0 <= int(first.headers["x-ratelimit-reset"]) - time.time() <= 61
        assert (await client.get("/status")).headers["x-ratelimit-remaining"] == "1"
        assert (await client.post(converse_url("hello", "u2"), json={"text": "hi"})).status_code == 200
        for r in (await client.post(converse_url("hello", "u3"), json={"text": "hi"}), await client.get("/status")):
            assert_plain(r, 429, "Too many requests, please slow down.")
            assert r.headers["retry-after"] == "60" and r.headers["x-ratelimit-remaining"] == "0"
        other = httpx.ASGITransport(app, client=("10.0.0.2", 4000))
        async with httpx.AsyncClient(transport=other, base_url="http://parley.test") as elsewhere:
            r = await elsewhere.post(converse_url("hello", "u4"), json={"text": "hi"})
            assert r.status_code == 200, "another address has its own count"


async def test_routes_ignore_case_as_in_express_but_bot_and_user_ids_keep_theirs(server: httpx.AsyncClient) -> None:
    r = await server.post("/API/V1/Bots/hello/Converse/Ann", json={"text": "hi"})
    assert r.status_code == 200 and r.json()["responses"][-1]["text"] == "Hello!"
    secured = await server.post("/api/v1/bots/hello/converse/Ann/SECURED", json={"text": "hi"})
    assert secured.status_code == 401, "the secured route, which wants a token"
    assert (await server.get("/Status")).status_code == 200
    r = await server.post("/api/v1/bots/HELLO/converse/Ann", json={"text": "hi"})
    assert_api_error(r, 404, "NotFoundError", "Not Found: Invalid Bot ID", "BP_0044")
    r = await server.post("/API/v1/bots/nobody/events", json={"text": "hi"})
    assert_api_error(r, 404, "NotFoundError", "Not Found: Invalid Bot ID", "BP_0044")


async def test_a_parameter_that_cannot_be_decoded_is_a_400_as_in_express(tmp_path: Path) -> None:
    """Express decodes parameters with `decodeURIComponent`; what it refuses is a 400 `URIError`, and no
    turn runs (parley used to take `%ZZ` as a user's name)."""
    data = make_data(tmp_path)
    write_bot(data, "who", texts={"hello": "You are {{{event.target}}}"})
    async with serve(data) as (client, app):
        for user in ("%ZZ", "ab%", "%E0%A4%A", "%C3%28"):
            r = await client.post(converse_url("who", user), json={"text": "hi"})
            assert_api_error(r, 400, "URIError", f"Failed to decode param '{user}'")
        r = await client.post("/api/v1/bots/%ZZ/converse/u", json={"text": "hi"})
        assert_api_error(r, 400, "URIError", "Failed to decode param '%ZZ'")
        assert await say(client, "who", "%C3%A9", "hi") == ["You are é"]


async def test_an_encoded_slash_stays_in_the_user_id_as_in_express(tmp_path: Path) -> None:
    """Express matches the path as sent and decodes each parameter: `team%2F42` is the user `team/42`
    (the server's decoded path would have five segments and no route)."""
    data = make_data(tmp_path)
    write_bot(data, "who", texts={"hello": "You are {{{event.target}}}"})
    async with serve(data) as (client, app):
        assert await say(client, "who", "team%2F42", "hi") == ["You are team/42"]
        assert await say(client, "who", "team%2f42", "hi") == ["You are team/42"]
        assert await say(client, "who", "Ada%20Lovelace", "hi") == ["You are Ada Lovelace"]
        assert await say(client, "who", "100%25", "hi") == ["You are 100%"]
        trailing = await client.post(converse_url("who", "team%2F") + "/", json={"text": "hi"})
        assert trailing.json()["responses"][-1]["text"] == "You are team/"
        secured = await client.post(converse_url("who", "team%2F42") + "/secured", json={"text": "hi"})
        assert secured.status_code == 401, "the secured route, not a user named team/42/secured"
        assert (await client.post("/api/v1/bots/who/converse/a/b", json={"text": "hi"})).status_code == 404

        # a server that gives no raw path (ASGI allows it): the path it decoded is not decoded again
        async def without_raw_path(path: str, origin: bool) -> Any:
            sent: list[dict[str, Any]] = []
            body = b'{"text": "hi"}'
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": path, "raw_path": None, "query_string": b"", "root_path": "",
                     "client": ("127.0.0.1", 1), "server": ("parley.test", 80),
                     "headers": headers + ([(b"origin", b"https://shop.example")] if origin else [])}
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive() -> dict[str, Any]:
                return messages.pop(0) if messages else {"type": "http.disconnect"}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            await app(scope, receive, send)
            return json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))

        for origin in (False, True):  # the direct converse path, and the routed one
            answer = await without_raw_path("/api/v1/bots/who/converse/a%41", origin)
            assert answer["responses"][-1]["text"] == "You are a%41"


@pytest.mark.parametrize(("bot", "body"), [
    ("hello", {"text": "hi"}),  # an answer
    ("nobody", {"text": "hi"}),  # 404 BP_0044
    ("off", {"text": "hi"}),  # disabled
    ("broken", {"text": "hi"}),  # 503 naming the file
    ("closed", {"text": "hi"}),  # 403 as text
    ("secret", {"text": "hi"}),  # 401
    ("hello", {"text": "x" * 101}),  # too long
    ("hello", {"type": 3}),  # invalid payload
])
async def test_requests_with_and_without_an_origin_get_the_same_answer(server: httpx.AsyncClient, bot: str,
                                                                       body: dict[str, Any]) -> None:
    """A request without `Origin` takes the converse shortcut, one with it the framework's whole way
    (CORS, routing, exception handlers): both must answer alike."""
    answers = []
    for n, headers in enumerate(({}, {"Origin": "https://elsewhere.example"})):
        r = await server.post(converse_url(bot, f"same-{n}"), json=body, headers=headers)
        answers.append((r.status_code, r.headers["content-type"], r.content))
    assert answers[0] == answers[1]


async def test_deeply_nested_json_is_a_client_error(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    write_bot(data, "hello")
    nested = b'{"text":"hi","metadata":' + b'{"a":' * 2000 + b"1" + b"}" * 2001
    async with serve(data) as (client, _):
        for raw in (b"[" * 100_000, b"[" * 2000 + b"]" * 2000, nested):
            r = await client.post(converse_url("hello", "u1"), content=raw,
                                  headers={"content-type": "application/json"})
            assert r.status_code == 400, r.text
            assert r.json()["type"] == "entity.parse.failed"


def _random_body(rng: random.Random) -> tuple[bytes, str]:
    ctype = rng.choice([
        "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain",
        "application/vnd.api+json", "multipart/form-data; boundary=xx", "", "application/xml", "APPLICATION/JSON",
    ])
    kind = rng.randrange(8)
    if kind == 0:
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
    elif kind == 1:
        value: Any = rng.choice([None, True, 1, 1.5, "x", [], [1, "a"], {"text": {"a": 1}}, {"text": ["hi"]}])
        raw = json.dumps(value).encode()
    elif kind == 2:
        body: dict[str, Any] = {"text": rng.choice(["hi", "", " ", "\u0000", "😀" * 200, "a" * 99, "{{user}}"])}
        for key in rng.sample(["type", "includedContexts", "metadata", "payload", "__proto__", "constructor"], 2):
            body[key] = rng.choice([None, "text", 3, [], ["global", 4], {}, {"a": [1, {"b": None}]}])
        raw = json.dumps(body).encode()
    elif kind == 3:
        raw = json.dumps({"text": "hi"}).encode()[: rng.randrange(1, 14)]
    elif kind == 4:
        raw = rng.choice([b"text=hi&text=ho", b"text[a]=1", b"%zz=%", b"text=%F0%9F%98%80", b"=&=&", b"text"])
    elif kind == 5:
        raw = b'{"text":"hi","metadata":{"n":' + rng.choice([b"1e999", b"-0", b"123456789012345678901234567890",
                                                           b"NaN", b"Infinity", b'"\\ud800"']) + b"}}"
    elif kind == 6:
        raw = rng.choice([b'{"text":"\\ud83d"}', b'{"text":"hi"}\n\n', b'\xef\xbb\xbf{"text":"hi"}',
                          b'{"text":"a\\u0000b"}'])
    else:
        raw = b'{"text":"hi","metadata":' + b"[" * rng.randrange(500, 1500) + b"]" * 10
    return raw, ctype


async def test_fuzzed_bodies_never_cause_a_server_error(server: httpx.AsyncClient) -> None:
    rng = random.Random(20240611)
    for i in range(80):
        raw, ctype = _random_body(rng)
        headers = {"content-type": ctype} if ctype else {}
        bot = rng.choice(["hello", "pizza-bot", "emoji", "off", "nobody"])
        r = await server.post(converse_url(bot, f"fuzz-{i % 7}"), content=raw, headers=headers)
        assert r.status_code < 500, (raw, ctype, r.status_code, r.text)
        assert r.headers["content-type"] in (JSON_TYPE, HTML_TYPE)
        if r.headers["content-type"] == JSON_TYPE:
            body = r.json()
            assert "responses" in body or {"statusCode", "type", "message"} <= set(body)


# ----------------------------------------------------------------------------------------- answers


async def test_answer_has_typing_entries_and_clean_payloads(server: httpx.AsyncClient) -> None:
    r = await server.post(converse_url("pizza-bot", "shape"), json={"text": "hi"})
    assert r.status_code == 200
    assert r.headers["content-type"] == JSON_TYPE
    body = r.json()
    assert list(body) == ["responses"]
    assert body["responses"] == [
        {"type": "typing", "value": True},
        {"type": "text", "text": "Hi! I'm Pizza Bot."},
        {"type": "typing", "value": True},
        {
            "type": "single-choice",
            "skill": "choice",
            "text": "Which size would you like?",
            "choices": [{"title": "Small", "value": "small"}, {"title": "Large", "value": "large"}],
        },
    ]


def _shape_ok(responses: list[dict[str, Any]]) -> bool:
    for i, p in enumerate(responses):
        assert "typing" not in p and "workflow" not in p, p
        if p["type"] == "typing":
            assert p == {"type": "typing", "value": True}
            assert responses[i + 1]["type"] != "typing"
    return True


async def test_answer_payloads_keep_no_render_leftovers(server: httpx.AsyncClient) -> None:
    for text in ("hi", "small", "Ada", "yes", "hi"):
        r = await server.post(converse_url("pizza-bot", "leftovers"), json={"text": text})
        assert r.status_code == 200
        responses = r.json()["responses"]
        assert responses, text
        assert responses[0] == {"type": "typing", "value": True}
        assert _shape_ok(responses)


async def test_version_is_the_botpress_version_as_text(server: httpx.AsyncClient) -> None:
    r = await server.get("/version")
    assert_plain(r, 200, "12.31.10")


async def test_status_is_200(server: httpx.AsyncClient) -> None:
    r = await server.get("/status")
    assert r.status_code == 200
    assert r.json()["botpress"] == "up"


# ------------------------------------------------------------------------------------- concurrency


async def test_concurrent_requests_of_one_user_each_get_their_own_answer(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    counter_bot(data)
    async with serve(data) as (client, _):
        answers = await asyncio.gather(*(say(client, "counter", "same-user", f"message {i}") for i in range(20)))
    counts = [int(a[0]) for a in answers]
    assert all(len(a) == 1 for a in answers), answers
    assert sorted(counts) == list(range(20))


def handshake(tmp_path: Path) -> tuple[Path, Path, str]:
    """Files through which a test's action says it started and the test lets it finish, and the
    action's JSON arguments naming them (a turn held exactly as long as the test needs)."""
    started, release = tmp_path / "started", tmp_path / "release"
    return started, release, json.dumps({"started": str(started), "release": str(release)})


SLOW_ACTION = """
import asyncio
import pathlib

async def run(event, temp, args):
    if event["target"] == "slow":  # busy until the test releases it (30 s at most)
        pathlib.Path(args["started"]).touch()
        for _ in range(3000):
            if pathlib.Path(args["release"]).exists():
                break
            await asyncio.sleep(0.01)
    temp["who"] = event["target"]
"""


async def test_a_slow_user_does_not_block_another_user(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    started, release, args = handshake(tmp_path)
    write_bot(data, "slowpoke", nodes=[node("entry", [f"wait_a_bit {args}", "say #!builtin_text-done"])],
              texts={"done": "done for {{temp.who}}"}, actions={"wait_a_bit": SLOW_ACTION})
    async with serve(data) as (client, _):
        finished: list[str] = []

        async def talk(user: str) -> None:
            assert await say(client, "slowpoke", user, "hi") == [f"done for {user}"]
            finished.append(user)

        slow = asyncio.create_task(talk("slow"))
        assert await until(started.exists), "the slow turn never started its action"
        await talk("fast")  # had it waited for the slow turn, it would end after it (30 s)
        assert not slow.done(), "user B waited for user A"
        release.touch()
        await slow
    assert finished == ["fast", "slow"]


SET_NAME_SLOWLY = """
import asyncio
import pathlib

async def run(event, user, args):
    pathlib.Path(args["started"]).touch()
    for _ in range(3000):  # until the test releases it (30 s at most)
        if pathlib.Path(args["release"]).exists():
            break
        await asyncio.sleep(0.01)
    user["visits"] = int(user.get("visits") or 0) + 1
"""


async def test_turns_of_two_bots_for_one_user_do_not_lose_user_memory(tmp_path: Path) -> None:
    """User memory is shared by bots (per channel + user); a slow turn on one bot must not overwrite
    what another bot stored for the same user meanwhile."""
    data = make_data(tmp_path)
    started, release, args = handshake(tmp_path)
    write_bot(data, "visits", nodes=[node("entry", [f"count_visit {args}", "say #!builtin_text-done"])],
              texts={"done": "visits={{user.visits}}"}, actions={"count_visit": SET_NAME_SLOWLY})
    write_bot(data, "namer", nodes=[
        node("entry", ['builtin/setVariable {"type":"user","name":"name","value":"{{event.payload.text}}"}',
                       "say #!builtin_text-hello"]),
    ], texts={"hello": "Hello {{user.name}}"})
    write_bot(data, "greeter", texts={"hello": "name={{user.name}} visits={{user.visits}}"})
    async with serve(data) as (client, _):
        slow = asyncio.create_task(say(client, "visits", "shared", "hi"))
        # the slow turn has loaded the user's memory and is in its action
        assert await until(started.exists), "the slow turn never started its action"
        assert await say(client, "namer", "shared", "Ada") == ["Hello Ada"]
        release.touch()
        assert await slow == ["visits=1"]
        assert await say(client, "greeter", "shared", "hi") == ["name=Ada visits=1"]


async def test_a_message_whose_error_handler_fails_leaves_the_conversation_where_it_was(tmp_path: Path) -> None:
    """No error flow: a transition to a missing node ends that turn (saved, on the missing node);
    every later message then fails before any node runs, its error handler fails too, and nothing
    is saved: not even the expiries move (SPEC §3.6)."""
    data = make_data(tmp_path)
    write_bot(data, "stuck", nodes=[node("ask", ["say #!builtin_text-q"], next_node="gone", on_receive=[])],
              texts={"q": "Q"})
    async with serve(data) as (client, app):
        assert await say(client, "stuck", "u1", "hi") == ["Q"]
        assert await say(client, "stuck", "u1", "x") == []
        key = ConversationKey("stuck", "api", "u1")
        before = await app.state.conversations.store.load(key)
        assert before.memory.context["currentNode"] == "gone"
        await asyncio.sleep(0.05)
        assert await say(client, "stuck", "u1", "y") == []
        after = await app.state.conversations.store.load(key)
        assert (after.context_expiry, after.session_expiry) == (before.context_expiry, before.session_expiry)
        assert after.memory.context == before.memory.context


async def test_a_qna_redirect_to_a_missing_flow_is_a_timed_out_request(tmp_path: Path) -> None:
    """Botpress's jump to the missing flow throws outside the error handling: the event is retried,
    dropped, and the request ends with 400 "Request timed out."; nothing is saved."""
    data = make_data(tmp_path)
    folder = write_bot(data, "redirects", nodes=[node("entry", ["say #!builtin_text-hello"], on_receive=[])])
    (folder / "qna").mkdir()
    qna = {"id": "go", "data": {"questions": {"en": ["go"]}, "answers": {"en": ["Going"]}, "action": "text_redirect",
                                "redirectFlow": "nowhere.flow.json", "redirectNode": "entry", "enabled": True,
                                "contexts": ["global"]}}
    (folder / "qna" / "go.json").write_text(json.dumps(qna))

    def understand(bot: Any, event: dict[str, Any]) -> dict[str, Any]:
        intent = {"name": "__qna__go", "confidence": 1.0, "context": "global"}
        return {"intent": intent, "intents": [intent]}

    async with serve(data) as (client, app):
        app.state.conversations.understand = understand
        r = await client.post(converse_url("redirects", "u1"), json={"text": "go"})
        assert_api_error(r, 400, "Error", "Request timed out.")
        stored = await app.state.conversations.store.load(ConversationKey("redirects", "api", "u1"))
        assert stored.memory.context == {} and stored.memory.session.get("lastMessages", []) == []


@pytest.mark.parametrize(("data", "status", "headers"), [
    ({"responses": [{"type": "text", "text": "é"}]}, 200, {"X-Conversation-Token": "abc"}),
    ({"statusCode": 429}, 429, {"Retry-After": "3"}),
    ({}, 204, None),
    ({"x": 1}, 200, {"Content-Type": "text/plain"}),
])
def test_json_answers_carry_the_headers_starlette_would_send(data: Any, status: int,
                                                             headers: dict[str, str] | None) -> None:
    """Converse answers are built without Starlette's generic `Response` constructor; clients must
    see the same status, body and headers, in the same order."""
    import orjson
    from starlette.responses import Response

    from parley.http.errors import JSON_TYPE, json_response

    ours = json_response(data, status, headers)
    theirs = Response(orjson.dumps(data), status_code=status, media_type=JSON_TYPE, headers=headers)
    assert (ours.status_code, ours.body, ours.raw_headers) == (theirs.status_code, theirs.body, theirs.raw_headers)


SLEEP_ACTION = """
import asyncio

async def run(temp, args):
    await asyncio.sleep(float(args["s"]))
    temp["slept"] = args["s"]
"""


async def test_an_action_may_outlast_converse_timeout(tmp_path: Path) -> None:
    """Botpress does not count `converse.timeout` while an instruction runs (SPEC 1.5): an action slower
    than the timeout finishes and the node goes on. parley used to stop it at the timeout and run the
    error flow."""
    data = make_data(tmp_path)
    write_bot(data, "slow", config={"converse": {"timeout": "200ms"}}, actions={"slow": SLEEP_ACTION},
              texts={"done": "slept {{temp.slept}}", "oops": "error flow"},
              nodes=[node("entry", ['slow {"s":"0.4"}', "say #!builtin_text-done"])],
              flows={"error": [node("entry", ["say #!builtin_text-oops"])]})
    async with serve(data) as (client, _):
        assert await say(client, "slow", "u1", "hi") == ["slept 0.4"]


async def test_a_hung_action_is_stopped_by_the_action_timeout(tmp_path: Path) -> None:
    """PARLEY_ACTION_TIMEOUT bounds one action: past it, the action counts as one that raised."""
    data = make_data(tmp_path)
    write_bot(data, "slow", actions={"slow": SLEEP_ACTION},
              texts={"done": "slept {{temp.slept}}", "oops": "error flow"},
              nodes=[node("entry", ['slow {"s":"30"}', "say #!builtin_text-done"])],
              flows={"error": [node("entry", ["say #!builtin_text-oops"])]})
    async with serve(data, PARLEY_ACTION_TIMEOUT="300ms") as (client, _):
        assert await say(client, "slow", "u1", "hi") == ["error flow"]


async def test_the_body_is_parsed_before_the_bot_is_looked_up(tmp_path: Path) -> None:
    """Botpress's body parser runs before any route: malformed JSON is a 400 even for an unknown bot or
    without a token (parley answered 404 or 401 first)."""
    data = make_data(tmp_path)
    write_bot(data, "hello")
    async with serve(data) as (client, _):
        for path in (converse_url("nobody", "u1"), converse_url("hello", "u1") + "/secured"):
            r = await client.post(path, content=b"nope", headers={"content-type": "application/json"})
            assert r.status_code == 400 and r.json()["type"] == "entity.parse.failed", path


async def test_any_path_of_an_unknown_bot_is_its_json_404(tmp_path: Path) -> None:
    """Botpress checks the bot of every /api/v1/bots/<botId>/ path first: GET on an unknown bot's converse
    path is its JSON 404 (BP_0044), not Express's page; a known bot's wrong method stays the page."""
    data = make_data(tmp_path)
    write_bot(data, "hello")
    async with serve(data) as (client, _):
        r = await client.get(converse_url("nobody", "u1"))
        assert r.status_code == 404 and r.json()["errorCode"] == "BP_0044"
        r = await client.post("/api/v1/bots/nobody/anything", json={})
        assert r.status_code == 404 and r.json()["message"] == "Not Found: Invalid Bot ID"
        r = await client.get(converse_url("hello", "u1"))
        assert r.status_code == 404 and "Cannot GET" in r.text
