"""Entity extraction: list and pattern entities defined by the bot, system entities (Duckling's names).

Every extractor returns `Found` values; `to_botpress` gives them the shape of `event.nlu.entities`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# How many extractions so far depended on the moment they ran: dates read (or not) relative to the
# clock and the user's time zone, or a pattern match cut short by its time limit. The NLU keeps a
# repeated message's understanding only when this count did not move while computing it.
_moment_bound = [0]


def mark_moment_bound() -> None:
    _moment_bound[0] += 1


def moment_bound_count() -> int:
    return _moment_bound[0]


@dataclass(frozen=True, slots=True)
class Found:
    """One entity occurrence in a message. `name` is the entity name (`number`, `fruit`), `entity_id`
    Botpress's id for its kind (`system.number`, `custom.list.fruit`, `custom.pattern.sku`)."""

    name: str
    entity_id: str
    value: Any
    unit: str
    start: int
    end: int
    source: str
    confidence: float = 1.0

    def to_botpress(self) -> dict[str, Any]:
        """Botpress 12.31's shape (its NLU module's `mapEntity`), which writes `sensitive: false` whatever
        the entity's definition says: its NLU server is never told, so nothing is ever masked."""
        return {
            "name": self.name,
            "type": self.entity_id,
            "meta": {
                "confidence": self.confidence,
                "start": self.start,
                "end": self.end,
                "sensitive": False,
                "source": self.source,
            },
            "data": {"unit": self.unit, "value": self.value},
        }


def overlaps(a: Found, b: Found) -> bool:
    return a.start < b.end and b.start < a.end
