"""The OpenAPI document describes exactly the routes the app serves, and /docs shows them."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from parley.http.openapi import document
from tests.http.test_converse import make_data, serve, write_bot


def served_routes(app: object) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    out.add((route.path_format, method.lower()))  # `{botId}`, not `{botId:param}`
    return out


async def test_the_document_matches_the_served_routes(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    write_bot(data, "b")
    async with serve(data) as (client, app):
        r = await client.get("/api/v1/openapi.json")
        assert r.status_code == 200
        doc = r.json()
        assert doc["openapi"].startswith("3.1")
        documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
        assert documented == served_routes(app)
        assert doc == document()


async def test_every_operation_documents_its_answers_and_parameters(tmp_path: Path) -> None:
    doc = document()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), (path, method)
            assert "200" in op["responses"], (path, method)
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, (path, method)
            refs = [v for v in _walk(op) if isinstance(v, str) and v.startswith("#/components/schemas/")]
            assert all(ref.rsplit("/", 1)[1] in doc["components"]["schemas"] for ref in refs)


def _walk(value: object) -> list[object]:
    out: list[object] = []
    if isinstance(value, dict):
        for v in value.values():
            out += _walk(v)
    elif isinstance(value, list):
        for v in value:
            out += _walk(v)
    else:
        out.append(value)
    return out


async def test_docs_page_lists_every_route(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    async with serve(data) as (client, _):
        r = await client.get("/docs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        for path in document()["paths"]:
            assert path in r.text
        assert "<script" not in r.text  # self-contained, nothing fetched from elsewhere
