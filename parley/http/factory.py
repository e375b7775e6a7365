"""Entry point for `parley serve --workers N`: each worker process builds its own app."""

from __future__ import annotations

from starlette.applications import Starlette

from parley.http.app import create_app
from parley.settings import Settings


def app() -> Starlette:
    return create_app(Settings.from_env())
