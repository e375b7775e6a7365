"""Botpress v12's "natural" election (`modules/nlu/src/backend/election`), SPEC §3.4.

Given the per-context predictions, pick the most confident context among the included ones (all
contexts when none of them exists), add a `none` candidate carrying that context's out-of-scope
score, keep the two best candidates and rescale them so they sum to 1. The elected intent brings its
slots; the result is ambiguous when every rescaled confidence lies within ±0.1 of 1/n.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

NONE = "none"
AMBIGUITY_RANGE = 0.1

JSONDict = dict[str, Any]


def is_ambiguous(intents: Sequence[JSONDict]) -> bool:
    if len(intents) <= 1:
        return False
    ideal = 1 / len(intents)
    lo, hi = ideal - AMBIGUITY_RANGE, ideal + AMBIGUITY_RANGE
    for i in intents[1:] if intents[0]["name"] == NONE else intents:
        if not lo <= float(i["confidence"]) < hi:  # lodash's inRange: the end excluded
            return False
    return True


def elect(predictions: Mapping[str, JSONDict], included: Sequence[str]) -> JSONDict:
    """`intent`, `intents`, `ambiguous` and `slots` from `predictions` ({ctx: {confidence, oos, intents}}).

    Runs on every new message: loops and C built-ins rather than lambdas and generators, a Python call
    each (a third of the election's cost)."""
    if not predictions:
        none = {"name": NONE, "context": "global", "confidence": 1.0}
        return {"intent": none, "intents": [none], "ambiguous": False, "slots": {}}
    # in the predictions' order, not the request's: a tie goes to the first of them, as lodash's maxBy does
    pool = [c for c in predictions if c in included] or list(predictions)
    confidences = [float(predictions[c].get("confidence", 0)) for c in pool]
    context = pool[confidences.index(max(confidences))]
    ctx = predictions[context]
    best = sorted(ctx.get("intents") or [], key=_CONFIDENCE, reverse=True)[:2]
    # (confidence, name, slots), the best two of the context's two best intents and `none`
    candidates = [(float(i["confidence"]), i["label"], i.get("slots") or {}) for i in best]
    candidates.append((float(ctx.get("oos", 0)), NONE, {}))
    candidates.sort(key=_FIRST, reverse=True)  # stable: ties keep the intents first, in their order
    top = candidates[:2]
    total = sum(map(_FIRST, top))
    intents = [{"name": name, "context": context, "confidence": confidence / total if total > 0 else 1 / len(top)}
               for confidence, name, _ in top]
    return {"intent": intents[0], "intents": intents, "ambiguous": is_ambiguous(intents), "slots": top[0][2]}


_CONFIDENCE = itemgetter("confidence")
_FIRST = itemgetter(0)
