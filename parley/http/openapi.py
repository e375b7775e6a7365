"""The OpenAPI 3.1 document of every route parley serves, and a readable page of it at /docs.

Routes are described here, next to each other, rather than derived from code: the Converse API's
shapes are Botpress's, and a test checks that this document and the routes the app serves agree.
"""

from __future__ import annotations

import html
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

JSON = "application/json"

ERROR = {
    "type": "object",
    "required": ["statusCode", "type", "message"],
    "properties": {
        "statusCode": {"type": "integer"},
        "errorCode": {"type": "string", "examples": ["BP_0044"]},
        "type": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "string"},
        "docs": {"type": "string"},
    },
}

PAYLOAD = {
    "type": "object",
    "description": "An outgoing payload (text, single-choice, image, card, carousel, …) or a typing "
    'indicator `{"type":"typing","value":true}` before a payload shown with typing.',
    "required": ["type"],
    "properties": {"type": {"type": "string"}},
    "additionalProperties": True,
}

CONVERSE_BODY = {
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "enum": ["text"]},
        "text": {
            "type": "string",
            "minLength": 1,
            "description": "At most converse.maxMessageLength (360) UTF-16 units",
        },
        "includedContexts": {"type": "array", "items": {"type": "string"}},
        "metadata": {"type": "object"},
        "messageId": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "A retry with the same id gets the stored answer (parley extension)",
        },
    },
}

ANSWER = {
    "type": "object",
    "required": ["responses"],
    "properties": {"responses": {"type": "array", "items": {"$ref": "#/components/schemas/Payload"}}},
}

SECURED_ANSWER = {
    "type": "object",
    "required": ["responses"],
    "properties": {
        "responses": {"type": "array", "items": {"$ref": "#/components/schemas/Payload"}},
        "nlu": {"type": "object"},
        "suggestions": {"type": "array", "items": {"type": "object"}},
        "state": {
            "type": "object",
            "properties": {
                "__stacktrace": {"type": "array"},
                "user": {"type": "object"},
                "context": {"type": "object"},
                "session": {"type": "object"},
                "temp": {"type": "object"},
                "bot": {"type": "object"},
            },
        },
        "decision": {"type": "object"},
        "credentials": {"type": "object"},
    },
}


PROACTIVE_EVENT = {
    "description": "Either payloads delivered as they are, or a jump into a flow (at `node`, else its start "
    'node) so that the bot speaks first; the flow sees `event.type` "proactive" and `event.payload`.',
    "oneOf": [
        {
            "type": "object",
            "required": ["payloads"],
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": ["proactive"]},
                "payloads": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 50,
                    "items": {"$ref": "#/components/schemas/Payload"},
                },
            },
        },
        {
            "type": "object",
            "required": ["flow"],
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "enum": ["proactive"]},
                "flow": {"type": "string", "minLength": 1, "examples": ["main.flow.json"]},
                "node": {"type": "string", "minLength": 1, "examples": ["entry"]},
                "payload": {"type": "object"},
            },
        },
    ],
}

OUTBOX_MESSAGE = {
    "type": "object",
    "description": "A message the bot sent outside a request, as kept in the conversation's outbox.",
    "required": ["id", "botId", "userId", "source", "eventId", "createdAt", "responses"],
    "properties": {
        "id": {
            "type": ["integer", "null"],
            "description": "Outbox id: grows with every message; null when a proactive event said nothing",
        },
        "botId": {"type": "string"},
        "userId": {"type": "string"},
        "source": {"type": "string", "enum": ["timeout", "event", "scheduled"]},
        "eventId": {"type": "string"},
        "createdAt": {"type": ["string", "null"], "format": "date-time"},
        "responses": {"type": "array", "items": {"$ref": "#/components/schemas/Payload"}},
    },
}

OUTBOX_EVENT = {
    "type": "object",
    "description": "One Server-Sent Event of the stream: `id` is the outbox id, `data` an OutboxMessage as JSON "
    "(events without data, `retry:` and `: keep-alive` comments, carry no message).",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"const": "message"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/OutboxMessage"},
        },
        "retry": {"type": "integer"},
    },
}

CONVERSATION_TOKEN = {
    "description": "Opens this user's stream and poll routes (parley extension)",
    "schema": {"type": "string"},
}


def _err(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _success(description: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Botpress's `sendSuccess` envelope: `{status: "success", message, payload}`."""
    schema = {"type": "object", "required": ["status", "message", "payload"],
              "properties": {"status": {"const": "success"}, "message": {"type": "string"},
                             "payload": {"type": "object", "properties": payload}}}
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


BOT_USER = [
    {"name": "botId", "in": "path", "required": True, "schema": {"type": "string"}, "example": "welcome-bot"},
    {"name": "userId", "in": "path", "required": True, "schema": {"type": "string"}, "example": "alice"},
]
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
READER: list[dict[str, list[str]]] = [{"conversationToken": []}, {"conversationTokenQuery": []}, {"bearer": []}]
THROTTLED = _err("Throttled (rate limit or too many waiting messages); see Retry-After")
READ_ERRORS = {
    "400": _err("A cursor (after, limit, Last-Event-ID) that is not a whole number"),
    "401": _err("No conversation token or collaborator token, or an invalid one (another user's token)"),
    "403": _err(
        "The collaborator has no access to this bot, the bot only accepts collaborator tokens, "
        "or the Converse API is off for it"
    ),
    "404": _err("Unknown or disabled bot"),
    "503": _err("The bot's files are broken"),
}
# what a collaborator's POST on a bot can meet besides its own 400
COLLABORATOR_POST_ERRORS = {
    "401": _err("Missing, malformed, expired or revoked token (BP_0041)"),
    "403": _err("The token's user has no access to this bot, or the API is off for it"),
    "404": _err("Unknown or disabled bot"),
    "413": _err("Body too large"),
    "429": THROTTLED,
    "503": _err("The bot's files are broken"),
}
TOKEN_PARAMETER = {
    "name": "token",
    "in": "query",
    "required": False,
    "schema": {"type": "string"},
    "description": "The conversation token, for clients that cannot set headers (EventSource)",
}
# a retry with the same key gets the first answer instead of running again (kept for a day)
IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 128},
}

PATHS: dict[str, dict[str, Any]] = {
    "/status": {
        "get": {
            "summary": "Health: 200 once the bots are loaded",
            "responses": {
                "200": {
                    "description": "up",
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    **{k: {"type": "string"} for k in ("botpress", "database", "messaging", "nlu")},
                                    "bots": {  # with the NLU on: each bot's training status
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            }
                        }
                    },
                }
            },
        }
    },
    "/version": {
        "get": {
            "summary": "The Botpress version parley reproduces, as plain text (e.g. 12.31.10)",
            "responses": {
                "200": {"description": "the version", "content": {"text/html": {"schema": {"type": "string"}}}}
            },
        }
    },
    "/api/v1/metrics": {
        "get": {
            "summary": "Turn counters of the process that answers",
            "responses": {"200": {"description": "counters", "content": {JSON: {"schema": {"type": "object"}}}}},
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}}},
        }
    },
    "/docs": {"get": {"summary": "This document, readable", "responses": {"200": _text("HTML")}}},
    "/api/v1/bots/{botId}/media/{file}": {
        "get": {
            "summary": "A file of the bot's media folder (images, files referenced by content elements)",
            "parameters": [
                {
                    "name": "botId",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    "example": "welcome-bot",
                },
                {"name": "file", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {
                    "description": "the file",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                },
                "404": _err("Unknown or disabled bot, or no such file"),
            },
        }
    },
    "/api/v1/auth/login/basic/{strategy}": {
        "post": {
            "summary": "Collaborator login: a JWT for the secured routes",
            "parameters": [
                {"name": "strategy", "in": "path", "required": True, "schema": {"type": "string", "enum": ["default"]}}
            ],
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
                        }
                    },
                    "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                },
            },
            "responses": {
                "200": _success("logged in", {"jwt": {"type": "string"}, "exp": {"type": "integer"}}),
                "400": _err("Invalid credentials (BP_0009) or a malformed body"),
                "413": _err("Body too large"),
                "429": _err("Too many failed logins; see Retry-After"),
            },
        }
    },
    "/api/v1/auth/refresh": {
        "get": {
            "summary": "A new JWT for a valid one (the same one back when jwtToken.allowRefresh is false)",
            "security": BEARER,
            "responses": {
                "200": _success("refreshed", {"newToken": {}}),
                "401": _err("Missing, malformed, expired or revoked token (BP_0041)"),
            },
        }
    },
    "/api/v1/bots/{botId}/converse/{userId}": {
        "post": {
            "summary": "Send a user's message to a bot; get the bot's answer",
            "parameters": [
                *BOT_USER,
                {
                    "name": "include",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["responses"]},
                },
                IDEMPOTENCY_KEY,
            ],
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/ConverseBody"}}},
            },
            "responses": {
                "200": {
                    "description": "the bot's answer",
                    "headers": {"X-Conversation-Token": CONVERSATION_TOKEN},
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/Answer"}}},
                },
                "400": _err("Invalid payload, or text longer than converse.maxMessageLength"),
                "401": _err("The bot is private and no valid token was given"),
                "403": {
                    "description": "The public route is disabled, or include asked for more than responses",
                    "content": {
                        "text/html": {"schema": {"type": "string"}},
                        JSON: {"schema": {"$ref": "#/components/schemas/Error"}},
                    },
                },
                "404": {
                    "description": "Unknown or disabled bot",
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
                "413": _err("Body larger than httpServer.bodyLimit"),
                "429": THROTTLED,
                "503": _err("The bot's files are broken (the reason names the file and line)"),
            },
        }
    },
    "/api/v1/bots/{botId}/converse/{userId}/secured": {
        "post": {
            "summary": "The debug route: any payload, plus the NLU, state, suggestions and decision",
            "security": BEARER,
            "parameters": [
                *BOT_USER,
                {
                    "name": "include",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Comma-separated: nlu, state, suggestions, decision, credentials",
                },
            ],
            "requestBody": {"required": True, "content": {JSON: {"schema": {"type": "object"}}}},
            "responses": {
                "200": {
                    "description": "the answer and what was asked for",
                    "headers": {"X-Conversation-Token": CONVERSATION_TOKEN},
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/SecuredAnswer"}}},
                },
                "400": _err("Invalid payload"),
                **COLLABORATOR_POST_ERRORS,
            },
        }
    },
    "/api/v1/bots/{botId}/converse/{userId}/events": {
        "post": {
            "summary": "Proactive message: the bot speaks first (payloads as they are, or a jump into a flow). "
            "The messages go to the user's outbox (stream, poll, webhook) and are also returned here",
            "security": BEARER,
            "parameters": [*BOT_USER, IDEMPOTENCY_KEY],
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"$ref": "#/components/schemas/ProactiveEvent"}}},
            },
            "responses": {
                "200": {
                    "description": "what the bot said, as stored in the outbox",
                    "headers": {"X-Conversation-Token": CONVERSATION_TOKEN},
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/OutboxMessage"}}},
                },
                "400": _err("Invalid event (unknown flow or node, malformed payloads)"),
                **COLLABORATOR_POST_ERRORS,
            },
        }
    },
    "/api/v1/bots/{botId}/converse/{userId}/stream": {
        "get": {
            "summary": "Live stream (Server-Sent Events) of the user's outbox: each message as `id: <outbox id>` "
            "and `data: <OutboxMessage JSON>`; `: keep-alive` comments when idle. Resumes after Last-Event-ID, "
            "else after `after`, else from now on",
            "security": READER,
            "parameters": [
                *BOT_USER,
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                },
                {"name": "after", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
                TOKEN_PARAMETER,
            ],
            "responses": {
                "200": {
                    "description": "an endless event stream; the schema describes each event",
                    "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/OutboxEvent"}}},
                },
                **READ_ERRORS,
            },
        }
    },
    "/api/v1/bots/{botId}/converse/{userId}/messages": {
        "get": {
            "summary": "Poll the user's outbox: messages with an id above `after` (default 0), oldest first",
            "security": READER,
            "parameters": [
                *BOT_USER,
                {"name": "after", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                },
                TOKEN_PARAMETER,
            ],
            "responses": {
                "200": {
                    "description": "the messages",
                    "content": {
                        JSON: {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/OutboxMessage"}}}
                    },
                },
                **READ_ERRORS,
            },
        }
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "parley",
            "version": "0.1.0",
            "description": "Botpress v12's Converse API, served by parley.",
        },
        "paths": PATHS,
        "components": {
            "schemas": {
                "Error": ERROR,
                "Payload": PAYLOAD,
                "ConverseBody": CONVERSE_BODY,
                "Answer": ANSWER,
                "SecuredAnswer": SECURED_ANSWER,
                "ProactiveEvent": PROACTIVE_EVENT,
                "OutboxMessage": OUTBOX_MESSAGE,
                "OutboxEvent": OUTBOX_EVENT,
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "conversationToken": {"type": "apiKey", "in": "header", "name": "X-Conversation-Token"},
                "conversationTokenQuery": {"type": "apiKey", "in": "query", "name": "token"},
            },
        },
    }


_DOCUMENT_BYTES: bytes | None = None


async def openapi_json(request: Request) -> Response:
    global _DOCUMENT_BYTES
    if _DOCUMENT_BYTES is None:
        _DOCUMENT_BYTES = orjson.dumps(document())
    return Response(_DOCUMENT_BYTES, media_type="application/json; charset=utf-8")


async def docs(request: Request) -> Response:
    """A self-contained page (no scripts or assets from elsewhere) listing every route."""
    doc = document()
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>parley API</title>",
        "<style>body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "h2{font-size:1.05rem;border-top:1px solid #ddd;padding-top:1rem}code{background:#f4f4f4;"
        "padding:0 .2rem}pre{background:#f7f7f7;padding:.6rem;overflow:auto;font-size:12px}</style></head><body>",
        f"<h1>{html.escape(doc['info']['title'])} API</h1><p>{html.escape(doc['info']['description'])} "
        "Machine-readable: <a href='/api/v1/openapi.json'>/api/v1/openapi.json</a>.</p>",
    ]
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            parts.append(
                f"<h2><code>{method.upper()} {html.escape(path)}</code></h2><p>{html.escape(op.get('summary', ''))}</p>"
            )
            schemes = {name for requirement in op.get("security", []) for name in requirement}
            if "conversationToken" in schemes:
                parts.append(
                    "<p>Needs the conversation token (<code>X-Conversation-Token</code> header or "
                    "<code>?token=</code>) or <code>Authorization: Bearer &lt;jwt&gt;</code>.</p>"
                )
            elif schemes:
                parts.append("<p>Needs <code>Authorization: Bearer &lt;jwt&gt;</code>.</p>")
            for p in op.get("parameters", []):
                parts.append(
                    f"<div>{p['in']} <code>{html.escape(p['name'])}</code>"
                    f"{' (required)' if p.get('required') else ''}</div>"
                )
            body = op.get("requestBody", {}).get("content", {})
            for ctype, spec in body.items():
                schema = spec["schema"]
                if "$ref" in schema:
                    schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
                parts.append(
                    f"<div>body ({html.escape(ctype)}):</div><pre>"
                    f"{html.escape(orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode())}</pre>"
                )
            parts.append(
                "<ul>"
                + "".join(
                    f"<li><b>{code}</b> {html.escape(r['description'])}</li>" for code, r in op["responses"].items()
                )
                + "</ul>"
            )
    parts.append("</body></html>")
    return HTMLResponse("".join(parts))
