"""Redis clients, with the client library imported only when Redis is configured: importing it costs
every server start ~75 ms, and most deployments (one worker, SQLite) never use it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redis.asyncio import Redis


def redis_from_url(url: str, **options: Any) -> Redis:
    from redis.asyncio import Redis

    return Redis.from_url(url, **options)
