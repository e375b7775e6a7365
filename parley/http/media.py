"""`GET /api/v1/bots/{botId}/media/{file}`: a bot's media files, as Botpress serves them.

Content elements refer to images and files by this path (parley makes it absolute with the external
URL); only files directly inside the bot's `media/` folder are served, never anything outside it.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from parley.bots.models import Bot
from parley.http.errors import ApiError, disabled_bot, unknown_bot


def _not_found() -> ApiError:
    return ApiError(404, "NotFoundError", "Not Found: Media file not found", error_code="BP_0044")


async def media(request: Request) -> Response:
    bot = request.app.state.registry.get(request.path_params["botId"])
    if bot is None:
        raise unknown_bot()
    if bot.config.disabled if isinstance(bot, Bot) else bot.disabled:
        raise disabled_bot()
    name = request.path_params["file"]
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise _not_found()
    folder = Path(bot.path) / "media"
    path = folder / name
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise _not_found() from None
    if resolved.parent != folder.resolve() or not resolved.is_file():
        raise _not_found()
    ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(resolved, media_type=ctype, headers={"Cache-Control": "public, max-age=3600"})
