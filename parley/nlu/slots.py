"""Slot filling: a CRF tagger per intent (as Botpress does, with CRFsuite), then entities.

Training utterances mark slots with `[text](slot)`. Each token gets a B-/I-<slot> or O tag (with
Botpress's `/any` suffix when no entity covers the token) and features: the word, its shape, its
neighbours and the entities covering it. At prediction each token takes its most likely tag, as
Botpress's tagger does: a tag and its `/any` twin add up, and a tag under MIN_SLOT_CONFIDENCE or of a
slot the intent does not have is no slot. An inside tag joins the last slot of its name. A slot keeps
the text and span that were tagged; its value is that of an entity of one of the intent's slot types
that holds the span or lies within it, else the text itself.

Beyond Botpress: a slot the tagger missed is filled from an entity of its type when no other slot of
the intent accepts that type, so "I want bananas" fills `fruit` even after two training examples.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from parley.nlu.entities import Found
from parley.nlu.text import Token, Utterance, tokenize

log = logging.getLogger("parley.nlu")

ANY = "any"
ANY_SUFFIX = "/any"
MIN_SLOT_CONFIDENCE = 0.15
JSONDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlotDefinition:
    name: str
    entities: tuple[str, ...]

    def accepts(self, entity: Found) -> bool:
        return entity.name in self.entities or entity.entity_id in self.entities


def _features(tokens: Sequence[Token], entities: Sequence[Found]) -> list[list[str]]:
    covering: list[list[str]] = [[] for _ in tokens]
    for e in entities:
        for i, t in enumerate(tokens):
            if t.start < e.end and e.start < t.end:
                covering[i].append(e.name)
    out: list[list[str]] = []
    n = len(tokens)
    for i, t in enumerate(tokens):
        w = t.text.lower()
        # the word itself only where no entity covers it, as Botpress does: the tagger learns an
        # entity's slot from the entity, not from the values the examples happened to use
        f = [] if covering[i] else [f"w={w}"]
        f += [f"suf={w[-3:]}", f"pre={w[:3]}", f"pos={min(4, i * 4 // max(n, 1))}"]
        if t.text.isdigit():
            f.append("digit")
        elif any(c.isdigit() for c in t.text):
            f.append("hasdigit")
        if t.text[:1].isupper():
            f.append("title")
        if not t.is_word:
            f.append("punct")
        f += [f"ent={e}" for e in covering[i]]
        if i > 0:
            p = tokens[i - 1].text.lower()
            f += [f"w-1={p}", f"w-1|w={p}|{w}", *(f"ent-1={e}" for e in covering[i - 1])]
            if i > 1:
                f.append(f"w-2={tokens[i - 2].text.lower()}")
        else:
            f.append("BOS")
        if i < n - 1:
            nx = tokens[i + 1].text.lower()
            f += [f"w+1={nx}", f"w|w+1={w}|{nx}", *(f"ent+1={e}" for e in covering[i + 1])]
        else:
            f.append("EOS")
        out.append(f)
    return out


def _tags(tokens: Sequence[Token], utterance: Utterance, entities: Sequence[Found]) -> list[str]:
    tags = ["O"] * len(tokens)
    for span in utterance.slots:
        first = True
        for i, t in enumerate(tokens):
            if t.start < span.end and span.start < t.end:
                covered = any(t.start < e.end and e.start < t.end for e in entities)
                tags[i] = ("B-" if first else "I-") + span.name + ("" if covered else ANY_SUFFIX)
                first = False
    return tags


@dataclass
class SlotTagger:
    """The CRF of one intent (None when its utterances mark no slot) and its slot definitions."""

    definitions: tuple[SlotDefinition, ...]
    model: bytes | None
    _tagger: Any = None

    @classmethod
    def train(cls, definitions: Sequence[SlotDefinition], examples: Sequence[tuple[Utterance, list[Found]]],
              seed: int) -> SlotTagger:
        known = {d.name for d in definitions}
        marked = [(u, ents) for u, ents in examples if any(s.name in known for s in u.slots)]
        if not marked:
            return cls(tuple(definitions), None)
        import pycrfsuite

        trainer = pycrfsuite.Trainer(verbose=False)
        for u, ents in examples:
            tokens = tokenize(u.text)
            if tokens:
                kept = Utterance(u.text, tuple(s for s in u.slots if s.name in known))
                trainer.append(_features(tokens, ents), _tags(tokens, kept, ents))
        trainer.set_params({"c1": 1e-4, "c2": 1e-2, "max_iterations": 500,
                            "feature.possible_transitions": True, "feature.possible_states": True})
        fd, path = tempfile.mkstemp(suffix=".crfsuite")
        os.close(fd)
        try:
            trainer.train(path)
            with open(path, "rb") as fh:
                data = fh.read()
        finally:
            os.unlink(path)
        return cls(tuple(definitions), data)

    def _crf(self) -> Any:
        if self._tagger is None and self.model is not None:
            import pycrfsuite

            tagger = pycrfsuite.Tagger()
            tagger.open_inmemory(self.model)
            self._tagger = tagger
        return self._tagger

    def extract(self, text: str, tokens: Sequence[Token], entities: Sequence[Found]) -> JSONDict:
        """{slot name: Botpress Slot}; of two slots of one name, the more confident."""
        slots: JSONDict = {}
        tagger = self._crf()
        if tagger is not None and tokens:
            types = {t for d in self.definitions for t in d.entities}
            for name, start, end, confidence in self._spans(tagger, tokens, entities):
                slot = _slot(name, text, start, end, confidence, _holding(entities, types, start, end))
                if name not in slots or slots[name]["confidence"] <= confidence:
                    slots[name] = slot
        # entities the tagger did not place, for slots whose types no other slot shares
        used = [(s["start"], s["end"]) for s in slots.values()]
        for d in self.definitions:
            if d.name in slots:
                continue
            if any(o is not d and set(o.entities) & set(d.entities) for o in self.definitions):
                continue
            for e in entities:
                if d.accepts(e) and not any(a < e.end and e.start < b for a, b in used):
                    slots[d.name] = _slot(d.name, text, e.start, e.end, e.confidence, e)
                    used.append((e.start, e.end))
                    break
        return slots

    def _spans(self, tagger: Any, tokens: Sequence[Token],
               entities: Sequence[Found]) -> list[tuple[str, int, int, float]]:
        """(slot, start, end, confidence) of what the tagger marks; a slot's confidence is that of its
        first token."""
        # pycrfsuite's Tagger is not thread-safe; taggers are per model and used from one thread
        tagger.set(_features(tokens, entities))
        labels = tagger.labels()
        known = {d.name for d in self.definitions}
        spans: list[tuple[str, int, int, float]] = []
        for i, token in enumerate(tokens):
            marginal = {label: tagger.marginal(label, i) for label in labels}
            best, p = max(((label, q + marginal.get(label + ANY_SUFFIX, 0.0)) for label, q in marginal.items()),
                          key=lambda x: x[1])
            name = best[2:].removesuffix(ANY_SUFFIX)
            if best == "O" or p < MIN_SLOT_CONFIDENCE or name not in known:
                continue
            if best.startswith("I-") and spans and spans[-1][0] == name:
                spans[-1] = (name, spans[-1][1], token.end, spans[-1][3])
            else:
                spans.append((name, token.start, token.end, p))
        return spans


def _holding(entities: Sequence[Found], types: set[str], start: int, end: int) -> Found | None:
    """The first entity of one of `types` that holds the span or lies within it."""
    return next((e for e in entities if (e.name in types or e.entity_id in types)
                 and (e.start <= start and end <= e.end or start <= e.start and e.end <= end)), None)


def _slot(name: str, text: str, start: int, end: int, confidence: float, entity: Found | None) -> JSONDict:
    source = text[start:end]
    return {
        "name": name,
        "value": entity.value if entity is not None else source,
        "source": source,
        "entity": entity.to_botpress() if entity is not None else None,
        "confidence": round(float(confidence), 4),
        "start": start,
        "end": end,
    }


def slot_definitions(raw: Sequence[Mapping[str, Any]]) -> tuple[SlotDefinition, ...]:
    out = []
    for s in raw:
        name = s.get("name")
        if isinstance(name, str) and name:
            ents = tuple(e for e in s.get("entities") or [] if isinstance(e, str)) or (ANY,)
            out.append(SlotDefinition(name, ents))
    return tuple(out)
