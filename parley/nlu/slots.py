"""Slot filling: a CRF tagger per intent (as Botpress does, with CRFsuite), then entities.

Training utterances mark slots with `[text](slot)`. Each token gets a B-/I-<slot> or O tag and
features: the word, its shape, its neighbours and the entities covering it. At prediction the tagger
proposes spans; a span becomes a slot when an entity of a type the slot accepts covers it (the slot
then carries that entity and its value), or when the slot accepts `any` (the value is the text).
A slot the tagger missed is filled from an entity of its type when no other slot of the intent
accepts that type, so "I want bananas" fills `fruit` even after two training examples.
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
        f = [f"w={w}", f"suf={w[-3:]}", f"pre={w[:3]}", f"pos={min(4, i * 4 // max(n, 1))}"]
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


def _tags(tokens: Sequence[Token], utterance: Utterance) -> list[str]:
    tags = ["O"] * len(tokens)
    for span in utterance.slots:
        first = True
        for i, t in enumerate(tokens):
            if t.start < span.end and span.start < t.end:
                tags[i] = ("B-" if first else "I-") + span.name
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
                trainer.append(_features(tokens, ents), _tags(tokens, kept))
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
        """{slot name: Botpress Slot}."""
        slots: JSONDict = {}
        by_name = {d.name: d for d in self.definitions}
        tagger = self._crf()
        if tagger is not None and tokens:
            # pycrfsuite's Tagger is not thread-safe; taggers are per model and used from one thread
            labels = tagger.tag(_features(tokens, entities))
            spans: list[tuple[str, int, int, float]] = []
            for i, label in enumerate(labels):
                if label == "O":
                    continue
                kind, name = label[:2], label[2:]
                p = tagger.marginal(label, i)
                if kind == "I-" and spans and spans[-1][0] == name and spans[-1][2] == i - 1:
                    n, a, _, conf = spans[-1]
                    spans[-1] = (n, a, i, min(conf, p))
                else:
                    spans.append((name, i, i, p))
            for name, a, b, conf in spans:
                definition = by_name.get(name)
                if definition is None:
                    continue
                start, end = tokens[a].start, tokens[b].end
                slot = _make_slot(definition, text, start, end, conf, entities)
                if slot is not None and (name not in slots or slots[name]["confidence"] < slot["confidence"]):
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


def _make_slot(definition: SlotDefinition, text: str, start: int, end: int, confidence: float,
               entities: Sequence[Found]) -> JSONDict | None:
    matching = [e for e in entities if definition.accepts(e) and e.start < end and start < e.end]
    if matching:
        best = max(matching, key=lambda e: (min(e.end, end) - max(e.start, start), e.confidence))
        return _slot(definition.name, text, best.start, best.end, confidence, best)
    if ANY in definition.entities:
        return _slot(definition.name, text, start, end, confidence, None)
    return None


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
