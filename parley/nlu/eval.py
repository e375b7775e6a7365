"""`parley nlu-eval --train FILE --test FILE`: train on a dataset, predict its test set, print one JSON line.

Files are bitfan datasets (`{"lang", "samples": [{"text", "label"}]}`), CLINC150-style lists of
`[text, intent]`, a JSON object of such lists with the splits to use after a colon
(`data_dev.json:train+oos_train`), CSV or TSV tables (Banking77's `text,category`: the text and label
columns found by their header, else the first two columns) or JSON lines (objects or `[text, intent]`).
Items labelled `oos` are out of scope: in the training data they teach the model what to reject; in
the test data they count as correct when parley answers `none`.

A bitfan spelling document (`"type": "spell"`, a `text`) trains one intent on its lines, and each test
sentence counts when the spell-checked text equals its label (bitfan's spelling measure).

A bitfan slot dataset (`"type": "slot"`: `variables` with their entity types, `enums`, `patterns`,
samples labelled with slot spans) is measured as bitfan measures Botpress on it: one intent learns the
training samples, and each test sample scores `slots_are` (every slot right, and no other),
`slot_includes` (the share of its slots found at their exact span) and `slot_count_is` (as many slots
as expected), averaged.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

OOS = "oos"
# header names of the text and label columns of a CSV/TSV table or JSON-lines objects (lower case)
TEXT_COLUMNS = ("text", "utterance", "sentence", "query", "question", "example")
LABEL_COLUMNS = ("label", "intent", "category", "class")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("nlu-eval", help="measure the NLU on a dataset (accuracy, out-of-scope recall, speed)")
    p.add_argument("--train", required=True, help="training file (bitfan JSON, [text, intent] list, FILE:split+split)")
    p.add_argument("--test", required=True, help="test file, same formats")
    p.add_argument("--lang", default=None, help="language when the files do not say (default en)")
    p.add_argument("--seed", type=int, default=42)


def load_samples(spec: str) -> tuple[list[tuple[str, str]], str | None]:
    """(text, label) pairs and the dataset's language if it names one."""
    path, _, splits = spec.partition(":")
    if not Path(path).is_file() and ":" in spec:  # a Windows drive letter, or a colon in the name
        path, splits = spec, ""
    raw = Path(path).read_text(encoding="utf-8-sig")
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".tsv"):
        return _table(raw, "\t" if suffix == ".tsv" else ","), None
    if suffix in (".jsonl", ".ndjson"):
        return _json_lines(raw), None
    data = json.loads(raw)
    lang = None
    items: list[Any]
    if isinstance(data, dict) and "samples" in data:
        lang = data.get("lang")
        items = [(s["text"], s["label"]) for s in data["samples"]]
    elif isinstance(data, dict) and isinstance(data.get("sentences"), list):
        # Braun et al. 2017's corpora: each sentence flagged for training or testing (`FILE:train`, `FILE:test`)
        if splits not in ("train", "test"):
            raise ValueError(f"{path}: name the part, {path}:train or {path}:test")
        lang = data.get("lang")
        items = [(s["text"], s["intent"]) for s in data["sentences"] if bool(s.get("training")) == (splits == "train")]
    elif isinstance(data, dict):
        names = splits.split("+") if splits else [k for k in data if isinstance(data[k], list)]
        items = [tuple(x) for name in names for x in data[name]]
    elif isinstance(data, list):
        items = [tuple(x) for x in data]
    else:
        raise ValueError(f"{path}: not a dataset")
    out = []
    for item in items:
        text, label = item[0], item[1]
        if isinstance(label, list):  # bitfan multi-label: keep the first
            label = label[0] if label else OOS
        out.append((str(text), str(label)))
    return out, lang


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    return next((lowered.index(n) for n in names if n in lowered), None)


def _table(raw: str, delimiter: str) -> list[tuple[str, str]]:
    """Rows of a CSV/TSV table: columns named by the header (TEXT_COLUMNS, LABEL_COLUMNS), else the
    first two, a header-less table starting with its first row."""
    rows = [r for r in csv.reader(io.StringIO(raw), delimiter=delimiter) if any(c.strip() for c in r)]
    if not rows:
        return []
    text_at, label_at = _column(rows[0], TEXT_COLUMNS), _column(rows[0], LABEL_COLUMNS)
    body = rows[1:] if text_at is not None or label_at is not None else rows
    text_at = 0 if text_at is None else text_at
    label_at = (1 if text_at == 0 else 0) if label_at is None else label_at
    out = []
    for number, row in enumerate(body, start=len(rows) - len(body) + 1):
        if max(text_at, label_at) >= len(row):
            raise ValueError(f"row {number} has {len(row)} column(s): expected a text and a label")
        out.append((row[text_at], row[label_at].strip() or OOS))
    return out


def _json_lines(raw: str) -> list[tuple[str, str]]:
    out = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        item = json.loads(line)
        if isinstance(item, dict):
            text_key = next((k for k in TEXT_COLUMNS if k in item), None)
            label_key = next((k for k in LABEL_COLUMNS if k in item), None)
            if text_key is None or label_key is None:
                raise ValueError(f"line {number}: an object needs a text and a label key")
            item = [item[text_key], item[label_key]]
        if not isinstance(item, list) or len(item) < 2:
            raise ValueError(f"line {number}: expected an object or a [text, label] list")
        label = item[1]
        if isinstance(label, list):
            label = label[0] if label else OOS
        out.append((str(item[0]), str(label)))
    return out


def _prepare() -> Any:
    """What every evaluation does first: BLAS on this process's share of cores, the sentence vectors'
    table (or None), the date reader warmed up (its first call is not a prediction's cost)."""
    from parley.nlu.embeddings import load_embedder
    from parley.nlu.entities.system import warm_up
    from parley.nlu.service import limit_blas_threads

    limit_blas_threads()
    embedder = load_embedder()
    warm_up()
    return embedder


def _latency(milliseconds: list[float]) -> dict[str, float]:
    """p50 and p99 of the prediction times."""
    ordered = sorted(milliseconds)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0

    return {"predict_ms_p50": pct(0.5), "predict_ms_p99": pct(0.99)}


def evaluate(train: list[tuple[str, str]], test: list[tuple[str, str]], lang: str, seed: int) -> dict[str, Any]:
    from parley.nlu.model import IntentData, LanguageModel, TrainingSet, predict_elected
    from parley.nlu.text import parse_utterance

    embedder = _prepare()
    by_label: dict[str, list[str]] = {}
    for text, label in train:
        by_label.setdefault(label, []).append(text)
    oos = tuple(by_label.pop(OOS, []))
    intents = tuple(
        IntentData(label, ("global",), tuple(parse_utterance(t) for t in texts), ())
        for label, texts in sorted(by_label.items())
    )
    data = TrainingSet(lang, intents, seed=seed, oos=oos)
    started = time.perf_counter()
    model = LanguageModel.train(data, embedder)
    train_seconds = time.perf_counter() - started

    latencies: list[float] = []
    correct = in_scope = in_scope_correct = oos_total = oos_found = said_none = 0
    for text, label in test:
        t0 = time.perf_counter()
        name = predict_elected(model, text, ["global"])[1]["intent"]["name"]
        latencies.append((time.perf_counter() - t0) * 1000)
        predicted = OOS if name == "none" else name
        said_none += predicted == OOS
        correct += predicted == label
        if label == OOS:
            oos_total += 1
            oos_found += predicted == OOS
        else:
            in_scope += 1
            in_scope_correct += predicted == label
    return {
        "accuracy": round(correct / len(test), 4) if test else 0.0,
        "in_scope_accuracy": round(in_scope_correct / in_scope, 4) if in_scope else None,
        "oos_recall": round(oos_found / oos_total, 4) if oos_total else None,
        "oos_precision": round(oos_found / said_none, 4) if said_none else None,
        "train_seconds": round(train_seconds, 2),
        **_latency(latencies),
        "n_train": len(train),
        "n_test": len(test),
        "intents": len(intents),
        "language": lang,
        "embeddings": embedder is not None,
        "model_id": model.id,
    }


def _typed_set(spec: str, kind: str, key: str, value_type: type) -> dict[str, Any] | None:
    """The bitfan dataset of `kind` at `spec` (its `key` a `value_type`), or None for another kind of file."""
    path = Path(spec)
    if path.suffix.lower() != ".json" or not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    if not isinstance(data, dict) or data.get("type") != kind:
        return None
    if not isinstance(data.get(key), value_type):
        raise ValueError(f"{spec}: a {kind} dataset needs its {key}")
    return data


def slot_set(spec: str) -> dict[str, Any] | None:
    """The bitfan slot dataset at `spec`, or None when the file is of another kind."""
    return _typed_set(spec, "slot", "samples", list)


def spelling_document(spec: str) -> dict[str, Any] | None:
    """A bitfan spelling training document (`"type": "spell"`, its `text` the vocabulary), or None."""
    return _typed_set(spec, "spell", "text", str)


def evaluate_spelling(document: dict[str, Any], test: list[tuple[str, str]], lang: str, seed: int) -> dict[str, Any]:
    """As bitfan measures Botpress: one intent learns the document's lines, and a test sentence counts
    when the spell-checked text the NLU reports equals the expected one."""
    from parley.nlu.model import IntentData, LanguageModel, TrainingSet, predict_elected
    from parley.nlu.text import parse_utterance

    _prepare()
    lines = tuple(parse_utterance(line) for line in str(document["text"]).splitlines() if line.strip())
    started = time.perf_counter()
    model = LanguageModel.train(TrainingSet(lang, (IntentData("main", ("global",), lines, ()),), seed=seed), None)
    train_seconds = time.perf_counter() - started
    latencies: list[float] = []
    right = 0
    for text, expected in test:
        t0 = time.perf_counter()
        checked = predict_elected(model, text, ["global"])[0]
        latencies.append((time.perf_counter() - t0) * 1000)
        right += checked == expected
    return {
        "accuracy": round(right / len(test), 4) if test else 0.0,
        "train_seconds": round(train_seconds, 2),
        **_latency(latencies),
        "n_test": len(test),
        "language": lang,
        "model_id": model.id,
    }


def _slot_utterance(sample: dict[str, Any]) -> Any:
    from parley.nlu.text import SlotSpan, Utterance

    text = str(sample["text"])
    spans = tuple(SlotSpan(str(x["name"]), int(x["start"]), int(x["end"]), text[int(x["start"]):int(x["end"])])
                  for x in sample.get("label") or [])
    return Utterance(text, spans)


def evaluate_slots(train: dict[str, Any], test: dict[str, Any], lang: str, seed: int) -> dict[str, Any]:
    from parley.nlu.entities.lists import ListEntity
    from parley.nlu.entities.patterns import PatternEntity
    from parley.nlu.model import IntentData, LanguageModel, TrainingSet
    from parley.nlu.slots import slot_definitions

    embedder = _prepare()
    lists = tuple(ListEntity.from_definition(str(e["name"]), {"occurrences": e.get("values") or [],
                                                             **({"fuzzy": e["fuzzy"]} if "fuzzy" in e else {})})
                  for e in train.get("enums") or [])
    patterns = tuple(PatternEntity.from_definition(str(p["name"]), {"pattern": p["regex"],
                                                                   "matchCase": bool(p.get("case_sensitive"))})
                     for p in train.get("patterns") or [])
    slots = slot_definitions([{"name": v["name"], "entities": v.get("types") or []}
                              for v in train.get("variables") or []])
    utterances = tuple(_slot_utterance(x) for x in train["samples"])
    data = TrainingSet(lang, (IntentData("main", ("global",), utterances, slots),), lists, patterns, seed)
    started = time.perf_counter()
    model = LanguageModel.train(data, embedder)
    train_seconds = time.perf_counter() - started

    latencies: list[float] = []
    are = includes = count = 0.0
    for sample in test["samples"]:
        expected = _slot_utterance(sample).slots
        t0 = time.perf_counter()
        predictions = model.predict(str(sample["text"]))["predictions"]
        latencies.append((time.perf_counter() - t0) * 1000)
        intent: dict[str, Any] = next(
            (i for ctx in predictions.values() for i in ctx["intents"] if i["label"] == "main"), {})
        found = intent.get("slots") or {}
        right = sum(1 for x in expected if x.name in found and (found[x.name]["start"], found[x.name]["end"]) ==
                    (x.start, x.end))
        share = right / len(expected) if expected else 1.0
        same_count = len(found) == len(expected)
        includes += share
        count += same_count
        are += share == 1.0 and same_count
    n = len(test["samples"])

    return {
        "slots_are": round(are / n, 4) if n else 0.0,
        "slot_includes": round(includes / n, 4) if n else 0.0,
        "slot_count_is": round(count / n, 4) if n else 0.0,
        "train_seconds": round(train_seconds, 2),
        **_latency(latencies),
        "n_train": len(train["samples"]),
        "n_test": n,
        "slots": [d.name for d in slots],
        "language": lang,
        "embeddings": embedder is not None,
        "model_id": model.id,
    }


def main(args: argparse.Namespace) -> int:
    try:
        slot_train, slot_test = slot_set(args.train), slot_set(args.test)
    except (OSError, ValueError) as exc:
        print(f"cannot read the dataset: {exc!r}", file=sys.stderr)
        return 2
    if slot_train is not None or slot_test is not None:
        if slot_train is None or slot_test is None:
            print("a slot dataset is measured against another slot dataset", file=sys.stderr)
            return 2
        lang = args.lang or slot_train.get("lang") or slot_test.get("lang") or "en"
        try:
            result = evaluate_slots(slot_train, slot_test, str(lang), args.seed)
        except (KeyError, TypeError, ValueError) as exc:
            print(f"cannot read the dataset: {exc!r}", file=sys.stderr)
            return 2
        print(json.dumps(result))
        return 0
    try:
        document = spelling_document(args.train)
        if document is not None:
            test, test_lang = load_samples(args.test)
            print(json.dumps(evaluate_spelling(document, test, args.lang or document.get("lang") or test_lang or "en",
                                               args.seed)))
            return 0
        train, train_lang = load_samples(args.train)
        test, test_lang = load_samples(args.test)
    except (OSError, ValueError, KeyError, IndexError, TypeError, csv.Error) as exc:  # json's errors are ValueErrors
        print(f"cannot read the dataset: {exc!r}", file=sys.stderr)
        return 2
    lang = args.lang or train_lang or test_lang or "en"
    if not train or not test:
        print("empty training or test set", file=sys.stderr)
        return 2
    print(json.dumps(evaluate(train, test, lang, args.seed)))
    return 0
