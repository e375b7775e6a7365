"""A bot's media files are served as Botpress serves them, and nothing outside its media folder."""

from __future__ import annotations

from pathlib import Path

from tests.http.test_converse import make_data, serve, write_bot


async def test_media_files_are_served_and_nothing_else(tmp_path: Path) -> None:
    data = make_data(tmp_path)
    folder = write_bot(data, "pics")
    (folder / "media").mkdir()
    (folder / "media" / "cat.png").write_bytes(b"\x89PNG fake")
    (folder / "secret.txt").write_text("not for you")
    async with serve(data) as (client, _):
        r = await client.get("/api/v1/bots/pics/media/cat.png")
        assert r.status_code == 200 and r.content == b"\x89PNG fake" and r.headers["content-type"] == "image/png"
        for bad in ("../secret.txt", "..%2Fsecret.txt", "%2e%2e%2fsecret.txt", "missing.png", ".hidden"):
            r = await client.get(f"/api/v1/bots/pics/media/{bad}")
            assert r.status_code == 404, bad
            assert b"not for you" not in r.content
        assert (await client.get("/api/v1/bots/nobody/media/cat.png")).status_code == 404
