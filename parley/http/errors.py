"""Every error answer parley gives, in Botpress's JSON shape, from one place."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import orjson
from starlette.responses import Response

DOCS = "https://botpress.com/docs"
JSON_TYPE = "application/json; charset=utf-8"


class ApiError(Exception):
    """An error with Botpress's fields: `{statusCode, errorCode?, type, message, details, docs}`."""

    def __init__(self, status: int, type_: str, message: str, *, error_code: str | None = None,
                 details: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.error_code = error_code
        self.details = details
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"statusCode": self.status}
        if self.error_code:
            out["errorCode"] = self.error_code
        out.update({"type": self.type, "message": self.message, "details": self.details, "docs": DOCS})
        return out


class PlainError(Exception):
    """Botpress answers a few refusals as plain text (HTML content type), not JSON."""

    def __init__(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers


_JSON_TYPE_HEADER = (b"content-type", JSON_TYPE.encode("latin-1"))


class JSONResponse(Response):
    """A JSON answer with the headers Starlette's `Response` would send (the given ones, then
    content-length and content-type), built directly: every converse answer is one, and the generic
    constructor's rendering and header checks cost more than writing them."""

    media_type = JSON_TYPE

    def __init__(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.background = None
        self.body = orjson.dumps(data)
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()] if headers else []
        given = {k for k, _ in raw}
        if status >= 200 and status not in (204, 304) and b"content-length" not in given:
            raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        if b"content-type" not in given:
            raw.append(_JSON_TYPE_HEADER)
        self.raw_headers = raw


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(data, status, headers)


def error_response(exc: ApiError | PlainError) -> Response:
    if isinstance(exc, PlainError):
        return Response(exc.text, status_code=exc.status, headers=exc.headers, media_type="text/html; charset=utf-8")
    return json_response(exc.body(), exc.status, exc.headers)


# what the `encodeurl` package leaves as it is: URL characters and well-formed percent-escapes
_URL_UNSAFE = re.compile(r"%(?![0-9A-Fa-f]{2})|[^!#$%&'()*+,\-./0-9:;=?@A-Z\[\]_a-z~]")


def _escape_html(text: str) -> str:
    """The `escape-html` package's five replacements."""
    return text.translate(_HTML_ESCAPES)


_HTML_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def not_found_page(method: str, path: str) -> Response:
    """Express's default 404 page, which Botpress clients see for unknown routes. The path is shown as
    sent, through `encodeurl` and `escape-html` as Express's finalhandler does: nothing a client puts
    in a URL becomes markup in the page."""
    shown = _escape_html(_URL_UNSAFE.sub(lambda m: quote(m.group(0), safe=""), path))
    body = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
        f"</head>\n<body>\n<pre>Cannot {_escape_html(method)} {shown}</pre>\n</body>\n</html>\n"
    )
    return Response(body, status_code=404, media_type="text/html; charset=utf-8")


def unknown_bot() -> ApiError:
    return ApiError(404, "NotFoundError", "Not Found: Invalid Bot ID", error_code="BP_0044")


def disabled_bot() -> ApiError:
    return ApiError(404, "NotFoundError", "Not Found: Bot is disabled", error_code="BP_0044")


def broken_bot(bot_id: str, reason: str) -> ApiError:
    return ApiError(503, "BotUnavailable", f"Bot {bot_id} could not be loaded: {reason}",
                    error_code="PARLEY_0503", headers={"Retry-After": "30"})


def invalid_payload(message: str) -> ApiError:
    return ApiError(400, "StandardError", f"Invalid payload: {escape_html(message)}")


def escape_html(text: str) -> str:
    for ch, ent in (("<", "&lt;"), (">", "&gt;"), ("/", "&#x2F;"), ("\\", "&#x5C;"), ("`", "&#96;")):
        text = text.replace(ch, ent)
    return text
