"""An event's date, a `str` that renders as JavaScript's Date does (its own module: `make` compiles
`parley.engine.state`, and a compiled module cannot define a `str` subclass)."""

from __future__ import annotations

from datetime import datetime

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class EventDate(str):
    """An event's `createdOn`. Botpress's is a JavaScript Date: JSON shows its ISO text (this string),
    while Mustache renders `String(date)`, e.g. `Wed Nov 25 2026 23:40:27 GMT+0000 (Coordinated
    Universal Time)`, which `js_string` gives (in UTC, the time zone of Botpress's Docker image)."""

    __slots__ = ()

    def js_string(self) -> str:
        try:
            d = datetime.fromisoformat(self.replace("Z", "+00:00"))
        except ValueError:
            return str.__str__(self)
        return (f"{_WEEKDAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d} {d.year:04d} "
                f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} GMT+0000 (Coordinated Universal Time)")
