"""Byte sizes written the way Botpress's config writes them ("10mb", "500kb", 1024)."""

from __future__ import annotations

import re

_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$", re.IGNORECASE)
_FACTORS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_size(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        m = _RE.match(value)
        if m:
            return int(float(m.group(1)) * _FACTORS[(m.group(2) or "b").lower()])
    return default
