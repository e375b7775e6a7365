"""Botpress's duration strings ("5s", "25m", "1h", "2 weeks", plain milliseconds) in seconds."""

from __future__ import annotations

import re

_UNITS = {
    "ms": 0.001, "msec": 0.001, "msecs": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "y": 31557600, "yr": 31557600, "yrs": 31557600, "year": 31557600, "years": 31557600,
}
_RE = re.compile(r"^\s*(-?(?:\d+)?\.?\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def parse_duration(value: object) -> float | None:
    """Seconds, or None when the value is not a duration. A bare number means milliseconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) / 1000
    if not isinstance(value, str):
        return None
    m = _RE.match(value)
    if not m:
        return None
    unit = m.group(2).lower() or "ms"
    factor = _UNITS.get(unit)
    return None if factor is None else float(m.group(1)) * factor
