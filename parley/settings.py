"""Settings from the environment (`PARLEY_*`) and `data/global/botpress.config.json`."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("parley.settings")
# an HTTP header name (RFC 9110 token)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

_ENV_REF = re.compile(r"%([A-Za-z_][A-Za-z0-9_]*)%")


def _substitute(text: str, data_dir: Path) -> str:
    """Botpress's config substitutions: %BOTPRESS_DIR%, "$isProduction", and any %ENV_VAR%."""
    production = os.environ.get("NODE_ENV", "production") == "production"
    text = text.replace('"$isProduction"', "true" if production else "false")
    text = text.replace('"$isDevelopment"', "false" if production else "true")

    def env(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "BOTPRESS_DIR":
            return json.dumps(str(data_dir.parent))[1:-1]
        value = os.environ.get(name)
        return json.dumps(value)[1:-1] if value is not None else m.group(0)

    return _ENV_REF.sub(env, text)


def load_global_config(data_dir: Path) -> dict[str, Any]:
    path = data_dir / "global" / "botpress.config.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(_substitute(path.read_text(encoding="utf-8-sig"), data_dir))
    except (OSError, json.JSONDecodeError) as exc:
        log.error("%s: cannot read global config (%s); using defaults", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def lookup(config: Mapping[str, Any], *path: str) -> Any:
    cur: Any = config
    for key in path:
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _duration(value: str | None, default: float) -> float:
    from parley.engine.durations import parse_duration

    seconds = parse_duration(value) if value else None
    return seconds if seconds and seconds > 0 else default


def _number(value: str | None, default: float) -> float:
    try:
        number = float(value) if value else default
    except ValueError:
        return default
    return number if math.isfinite(number) else default


def switched_off(value: str | None) -> bool:
    """An on/off environment switch (`PARLEY_NLU`, `PARLEY_WATCH`, `PARLEY_NLU_EMBEDDINGS`, ...): off
    when it says off, 0, false or no, in any case; on when unset."""
    return (value or "").strip().lower() in ("off", "0", "false", "no")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None = None
    lock_ttl: float = 10.0  # seconds before the lock of a dead worker expires
    # the longest one action may run (a hung HTTP call must not hold its user's lock for ever); Botpress
    # has no such limit: its `converse.timeout` is not counted while an instruction runs (SPEC 1.5)
    action_timeout: float = 60.0
    # Botpress's decision engine reads these from its environment (the first name is spelt so there)
    decision_min_confidence: float = 0.5  # BP_DECISION_MIN_CONFIENCE
    decision_no_repeat_seconds: float = 20.0  # BP_DECISION_MIN_NO_REPEAT (a bare number is milliseconds)
    host: str = "127.0.0.1"
    port: int = 3000
    nlu_enabled: bool = True
    watch: bool = True
    global_config: Mapping[str, Any] = field(default_factory=dict)
    production: bool = True

    @classmethod
    def from_env(
        cls,
        data_dir: str | Path | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Settings:
        env = os.environ if env is None else env
        data = Path(data_dir or env.get("PARLEY_DATA") or "data").resolve()
        db = env.get("PARLEY_DATABASE_URL") or f"sqlite:///{data / 'storage' / 'parley.sqlite'}"
        return cls(
            data_dir=data,
            database_url=db,
            redis_url=env.get("PARLEY_REDIS_URL") or None,
            lock_ttl=_duration(env.get("PARLEY_LOCK_TTL"), 10.0),
            action_timeout=_duration(env.get("PARLEY_ACTION_TIMEOUT"), 60.0),
            decision_min_confidence=_number(env.get("BP_DECISION_MIN_CONFIENCE")
                                            or env.get("BP_DECISION_MIN_CONFIDENCE"), 0.5),
            decision_no_repeat_seconds=_duration(env.get("BP_DECISION_MIN_NO_REPEAT"), 20.0),
            host=host or env.get("PARLEY_HOST", "127.0.0.1"),
            port=port or int(env.get("PARLEY_PORT", "3000")),
            nlu_enabled=not switched_off(env.get("PARLEY_NLU")),
            watch=not switched_off(env.get("PARLEY_WATCH")),
            global_config=load_global_config(data),
            production=env.get("NODE_ENV", "production") == "production",
        )

    def global_value(self, *path: str) -> Any:
        return lookup(self.global_config, *path)

    @functools.cached_property
    def response_headers(self) -> list[tuple[bytes, bytes]]:
        """`httpServer.headers`: set on every answer, as Botpress's `res.set(config.headers)` does before
        any route (a route's own header of the same name wins). Names and values that HTTP cannot carry
        are left out, logged."""
        given = self.global_value("httpServer", "headers")
        out: list[tuple[bytes, bytes]] = []
        for name, value in (given.items() if isinstance(given, dict) else ()):
            text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, int | float) else None
            if text is None or not _TOKEN.fullmatch(name) or any(c in text for c in "\r\n\0"):
                log.warning("httpServer.headers: %r is not a header this server can send; left out", name)
                continue
            try:
                out.append((name.lower().encode("latin-1"), text.encode("latin-1")))
            except UnicodeEncodeError:
                log.warning("httpServer.headers: %r is not a header this server can send; left out", name)
        return out

    @functools.cached_property
    def client_rate(self) -> tuple[int, float] | None:
        """`httpServer.rateLimit` ({enabled, limit: 600, limitWindow: "30s"}): requests allowed per client
        address and window, on every route, as Botpress's express-rate-limit counts them; None when off."""
        section = self.global_value("httpServer", "rateLimit")
        if not isinstance(section, dict) or not section.get("enabled"):
            return None
        limit = section.get("limit", 600)
        window = section.get("limitWindow", "30s")
        return (int(limit) if isinstance(limit, int | float) and limit > 0 else 600,
                _duration(window if isinstance(window, str) else None, 30.0))

    @functools.cached_property
    def body_limit(self) -> int:
        """`httpServer.bodyLimit` in bytes, read once (the global configuration is fixed at start)."""
        from parley.engine.sizes import parse_size

        return parse_size(self.global_value("httpServer", "bodyLimit"), default=10 * 1024 * 1024)

    @property
    def external_url(self) -> str:
        return str(
            os.environ.get("EXTERNAL_URL")
            or self.global_value("httpServer", "externalUrl")
            or f"http://{self.host}:{self.port}"
        )
