"""Entity extraction: list and pattern entities defined by the bot, system entities (Duckling's names).

Every extractor returns `Found` values; `to_botpress` gives them the shape of `event.nlu.entities`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    sensitive: bool = False

    def to_botpress(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.entity_id,
            "meta": {
                "confidence": self.confidence,
                "start": self.start,
                "end": self.end,
                "sensitive": self.sensitive,
                "source": self.source,
            },
            "data": {"value": self.value, "unit": self.unit},
        }


def overlaps(a: Found, b: Found) -> bool:
    return a.start < b.end and b.start < a.end
