"""The ceiling: a bare Starlette endpoint on the converse path answering a same-sized JSON body.

Served by the same uvicorn as parley and loaded by the same wrk script, so every parley figure can be
given as a ratio to what the web stack alone costs on this (shared, noisy) machine.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = orjson.dumps(
    {
        "responses": [
            {"type": "typing", "value": True},
            {"type": "text", "text": "Hi, I'm Welcome Bot! My task is to help you understand how Botpress works."},
            {"type": "typing", "value": True},
            {"type": "single-choice", "skill": "choice", "text": "What would you like to know?",
             "choices": [{"title": "What is a Context?", "value": "context"},
                         {"title": "What is Bot Memory?", "value": "memory"}]},
        ]
    }
)


async def converse(request: Request) -> Response:
    body = orjson.loads(await request.body())
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return Response(b'{"statusCode":400}', status_code=400, media_type="application/json")
    return Response(ANSWER, media_type="application/json; charset=utf-8")


async def status(request: Request) -> Response:
    return Response(b'{"botpress":"up"}', media_type="application/json")


app = Starlette(routes=[
    Route("/api/v1/bots/{botId}/converse/{userId}", converse, methods=["POST"]),
    Route("/status", status),
])
