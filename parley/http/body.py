"""Reading and validating request bodies the way Botpress's Express stack does.

Botpress parses JSON (strictly: objects and arrays only) and url-encoded forms; any other content
type leaves the body empty. Validation messages follow Joi 13, because clients match on them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import ClientDisconnect, Request

from parley.http.errors import ApiError, invalid_payload

DEFAULT_BODY_LIMIT = 10 * 1024 * 1024
# parley extension: a client message id makes retries safe (the same id gets the same answer).
MAX_MESSAGE_ID = 128


def header(request: Request, name: bytes) -> str | None:
    """The first value of the header `name` (lowercase, as ASGI gives header names), as Starlette's
    `request.headers.get` finds it, without building its case-insensitive map for the two or three
    headers the converse routes read (and raising and catching a KeyError for each one missing)."""
    headers = request.scope["headers"]
    if not isinstance(headers, list):  # any iterable in ASGI: read it once, as Starlette's `Headers` does
        headers = request.scope["headers"] = list(headers)
    for key, value in headers:
        if key == name:
            found: str = value.decode("latin-1")
            return found
    return None


def _too_large() -> ApiError:
    return ApiError(413, "entity.too.large", "request entity too large")


async def read_body(request: Request, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    declared = header(request, b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _parse_error(text: str, exc: json.JSONDecodeError) -> ApiError:
    stripped_end = len(text.rstrip())
    if exc.pos >= stripped_end or exc.msg.startswith("Unterminated string"):
        message = "Unexpected end of JSON input"
    else:
        message = f"Unexpected token {text[exc.pos]} in JSON at position {exc.pos}"
    return ApiError(400, "entity.parse.failed", message)


JSON_WHITESPACE = " \t\n\r"


def parse_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as undecodable:
        raise ApiError(400, "encoding.unsupported", "request body is not valid UTF-8") from undecodable
    if text.startswith("\ufeff"):  # body-parser decodes with iconv-lite, which drops a byte order mark
        text, raw = text[1:], raw[3:]
    body = text.lstrip(JSON_WHITESPACE)
    if not body:
        return {}
    if body[0] not in ("{", "["):
        # body-parser's strict mode: only objects and arrays, reported at the offending character
        raise ApiError(400, "entity.parse.failed",
                       f"Unexpected token {body[0]} in JSON at position {len(text) - len(body)}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise _parse_error(text, exc) from exc
    except RecursionError as deep:  # deeper than orjson's limit (1024): refuse rather than crash
        raise ApiError(400, "entity.parse.failed", "request body is nested too deeply") from deep
    raise ApiError(400, "entity.parse.failed", "Unexpected token in JSON")


def parse_form(raw: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True):
        if key in out:
            prev = out[key]
            out[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


async def read_payload(request: Request, limit: int = DEFAULT_BODY_LIMIT) -> Any:
    raw = await read_body(request, limit)
    ctype = (header(request, b"content-type") or "").split(";", 1)[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        return parse_json(raw)
    if ctype == "application/x-www-form-urlencoded":
        return parse_form(raw)
    return {}


def _js_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def validate_public_body(body: Any) -> dict[str, Any]:
    """The public route's Joi schema: {type?: "text", text: non-empty string, includedContexts?, metadata?}."""
    if not isinstance(body, dict):
        raise invalid_payload('"value" must be an object')

    def child(key: str, reason: str) -> ApiError:
        return invalid_payload(f'child "{key}" fails because ["{key}" {reason}]')

    if "type" in body:
        t = body["type"]
        if not isinstance(t, str):
            raise child("type", "must be a string")
        if t == "":  # Joi strings refuse "" before checking the allowed values
            raise child("type", "is not allowed to be empty")
        if t != "text":
            raise child("type", "must be one of [text]")
    if "text" not in body:
        raise child("text", "is required")
    text = body["text"]
    if not isinstance(text, str):
        raise child("text", "must be a string")
    if text == "":
        raise child("text", "is not allowed to be empty")
    if "includedContexts" in body:
        contexts = body["includedContexts"]
        if not isinstance(contexts, list):
            raise child("includedContexts", "must be an array")
        for i, c in enumerate(contexts):
            if not isinstance(c, str) or c == "":
                reason = "must be a string" if not isinstance(c, str) else "is not allowed to be empty"
                raise invalid_payload(
                    f'child "includedContexts" fails because ["includedContexts" at position {i} fails '
                    f'because ["{i}" {reason}]]'
                )
    if "messageId" in body:
        mid = body["messageId"]
        if not isinstance(mid, str):
            raise child("messageId", "must be a string")
        if not 0 < len(mid) <= MAX_MESSAGE_ID:
            raise child("messageId", f"length must be between 1 and {MAX_MESSAGE_ID} characters")
    if "metadata" in body and not isinstance(body["metadata"], dict):
        raise child("metadata", "must be an object")
    for key in body:
        if key not in ("type", "text", "includedContexts", "metadata", "messageId"):
            raise invalid_payload(f'"{key}" is not allowed')
    return body


def utf16_length(text: str) -> int:
    """JavaScript counts string length in UTF-16 code units (an emoji counts 2)."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)
