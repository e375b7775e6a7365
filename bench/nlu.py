"""NLU benchmark: `python bench/nlu.py [--quick]` (never part of `make test`).

Runs `parley nlu-eval` (in-process) on the sets the issue targets, prints one line per set next to
Botpress's published score and writes everything to bench/results/nlu-latest.json:

- CLINC150, 20 training utterances per intent (bitfan seed 42), tested on CLINC `val` + `oos_val`;
- CLINC150 full `train` + `oos_train`, tested on `val` + `oos_val` (training time target: 30 s);
- bitfan bpds A/B (en, fr) and the few-shot / imbalanced variants, against Botpress's mean of 3 seeds;
- bpds classic A–F and Braun et al. 2017's three corpora (no Botpress score; data the model was not tuned on);
- bitfan's bpds slot sets A–J, scored as bitfan scores Botpress (slots_are, slot_includes, slot_count_is),
  and its spelling set;
- the `small-talk` template: training time (target 1 s) and prediction latency.

The datasets live in ../shared/datasets (see its README); the machine is shared, so times vary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))

from parley.nlu.eval import (  # noqa: E402
    evaluate,
    evaluate_slots,
    evaluate_spelling,
    load_samples,
    slot_set,
    spelling_document,
)

DATASETS = REPO.parent / "shared" / "datasets"
BITFAN = DATASETS / "bitfan" / "intent"
SCORES = DATASETS / "bitfan" / "botpress_nlu_current_scores"


def botpress_accuracy(problem: str) -> float | None:
    """Botpress's accuracy on a bitfan problem (mean over its seeds), from its published scores."""
    out = []
    for name in ("bpds-intent.json", "clinc150.json"):
        path = SCORES / name
        if path.is_file():
            for s in json.loads(path.read_text())["scores"]:
                if s["problem"] == problem and s["metric"] == "accuracy":
                    out.append(float(s["score"]))
    return round(statistics.mean(out), 3) if out else None


def run_set(name: str, train: str, test: str, botpress: str | None, seed: int = 42) -> dict[str, Any]:
    train_items, train_lang = load_samples(train)
    test_items, test_lang = load_samples(test)
    result = evaluate(train_items, test_items, train_lang or test_lang or "en", seed)
    result["set"] = name
    result["botpress_accuracy"] = botpress_accuracy(botpress) if botpress else None
    return result


def botpress_slot_scores() -> dict[str, dict[str, float]]:
    """Botpress's slot scores per bpds slot set ("A": {"slotsAre": …}), from its published scores."""
    path = SCORES / "bpds-slots.json"
    out: dict[str, dict[str, float]] = {}
    if path.is_file():
        for s in json.loads(path.read_text())["scores"]:
            out.setdefault(s["problem"].split()[-1], {})[s["metric"].split(":")[-1]] = round(float(s["score"]), 3)
    return out


def slot_sets() -> list[dict[str, Any]]:
    folder = DATASETS / "bitfan" / "slot" / "bpds"
    botpress = botpress_slot_scores()
    results = []
    print(f"\n{'slot set':10} {'slots are':>13} {'includes':>13} {'count is':>13}   (parley / Botpress)")
    for part in "ABCDEFGHIJ":
        train = slot_set(str(folder / f"{part}-train.en.ds.json"))
        test = slot_set(str(folder / f"{part}-test.en.ds.json"))
        if train is None or test is None:
            continue
        r = evaluate_slots(train, test, "en", 42)
        bp = botpress.get(part, {})
        r |= {"set": f"bpds slot {part}", "botpress": bp}
        results.append(r)
        cells = [f"{r[k]:.3f} / {bp[m]:.3f}" if m in bp else f"{r[k]:.3f} /   -  "
                 for k, m in (("slots_are", "slotsAre"), ("slot_includes", "slotIncludes"),
                              ("slot_count_is", "slotCountIs"))]
        print(f"{'bpds ' + part:10} " + " ".join(f"{c:>13}" for c in cells), flush=True)
    return results


def spelling_set() -> dict[str, Any] | None:
    folder = DATASETS / "bitfan" / "spell" / "bpds"
    document = spelling_document(str(folder / "A-train.en.doc.json"))
    if document is None:
        return None
    test, _ = load_samples(str(folder / "A-test.en.ds.json"))
    r = evaluate_spelling(document, test, "en", 42)
    scores = SCORES / "bpds-spell.json"
    botpress = next((s["score"] for s in json.loads(scores.read_text())["scores"]), None) if scores.is_file() else None
    r |= {"set": "bpds A spelling", "botpress_accuracy": round(botpress, 3) if botpress is not None else None}
    print(f"\nbpds A spelling: {r['accuracy']:.3f} (Botpress {r['botpress_accuracy']})", flush=True)
    return r


def small_talk() -> dict[str, Any]:
    from parley.bots.loader import load_bot
    from parley.bots.models import Bot
    from parley.engine.state import default_nlu
    from parley.nlu.service import NluService

    bot = load_bot(REPO.parent / "shared" / "botpress-templates" / "small-talk")
    assert isinstance(bot, Bot)
    with tempfile.TemporaryDirectory() as cache:
        service = NluService(Path(cache))
        service.build(bot)  # warm-ups (language identifier, dates) are not the bot's training
        service = NluService(Path(cache) / "fresh")
        started = time.perf_counter()
        asyncio.run(service.train(bot))
        train_seconds = time.perf_counter() - started
        texts = ["hey there", "what do you do for fun", "who built you", "what is the capital of france",
                 "tell me a joke", "you are annoying", "where are you", "bye"] * 50
        times = []
        for text in texts:
            event = {"type": "text", "preview": text, "payload": {"text": text}, "state": {"user": {}},
                     "nlu": default_nlu()}
            service.repeats.clear()  # a message never seen: what a repeated one would cost is not this figure
            t0 = time.perf_counter()
            service.understand(bot, event)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        return {"set": "small-talk template", "train_seconds": round(train_seconds, 3),
                "understand_ms_p50": round(times[len(times) // 2], 3),
                "understand_ms_p99": round(times[int(len(times) * 0.99)], 3)}


def banking77_split() -> tuple[str, str, str, None]:
    """Banking77's training table split 80/20 (seed 0) into two CSV files: its test split is not in
    ../shared, and a held-out part of train stands in for it."""
    import csv
    import random

    rows = list(csv.reader((DATASETS / "banking77" / "train.csv").open(encoding="utf-8")))
    header, body = rows[0], rows[1:]
    random.Random(0).shuffle(body)
    cut = len(body) * 4 // 5
    folder = Path(tempfile.mkdtemp(prefix="parley-banking77-"))
    for name, part in (("train", body[:cut]), ("test", body[cut:])):
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([header, *part])
    return ("banking77 80/20 of train", str(folder / "train.csv"), str(folder / "test.csv"), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the full CLINC150 training (≈20–40 s)")
    args = parser.parse_args()
    dev = DATASETS / "clinc150" / "data_dev.json"
    clinc20 = str(BITFAN / "clinc150_20_42-train.en.ds.json")
    sets: list[tuple[str, str, str, str | None]] = [
        ("clinc150 20/intent", clinc20, f"{dev}:val+oos_val", "clinc150, 20 utt/intent, seed 42"),
    ]
    if not args.quick:
        sets.append(("clinc150 full", f"{dev}:train+oos_train", f"{dev}:val+oos_val", None))
    for train, test, problem in [
        ("A-train.en", "A-test.en", "bpsd A-en"), ("A-train.fr", "A-test.fr", "bpsd A-fr"),
        ("B-train.en", "B-test.en", "bpds B"),
        ("A-fewshot-train.en", "A-test.en", "bpds A fewshot-en"),
        ("A-fewshot-train.fr", "A-test.fr", "bpds A fewshot-fr"),
        ("A-imbalanced-train.en", "A-test.en", "bpds A imbalanced-en"),
        ("A-imbalanced-train.fr", "A-test.fr", "bpds A imbalanced-fr"),
    ]:
        sets.append((f"bpds {train}", str(BITFAN / "bpds" / f"{train}.ds.json"),
                     str(BITFAN / "bpds" / f"{test}.ds.json"), problem))
    # sets without a published Botpress score: how the model does on data it was not tuned on
    for part in "ABCDEF":
        sets.append((f"bpds classic {part}", str(BITFAN / "bpds" / "classic" / f"{part}-train.en.ds.json"),
                     str(BITFAN / "bpds" / "classic" / f"{part}-test.en.ds.json"), None))
    for corpus in ("ChatbotCorpus", "AskUbuntuCorpus", "WebApplicationsCorpus"):
        path = DATASETS / "braun2017" / f"{corpus}.json"
        sets.append((f"braun2017 {corpus.removesuffix('Corpus')}", f"{path}:train", f"{path}:test", None))
    sets.append(banking77_split())
    results: list[dict[str, Any]] = []
    print(f"{'set':28} {'acc':>6} {'botpress':>8} {'in-scope':>8} {'oos rec':>7} {'train s':>7} {'p50 ms':>7} "
          f"{'p99 ms':>7}")
    for name, train, test, problem in sets:
        r = run_set(name, train, test, problem)
        results.append(r)
        in_scope, oos = r["in_scope_accuracy"], r["oos_recall"]  # None: the test set has no such items
        print(f"{name:28} {r['accuracy']:6.3f} {r['botpress_accuracy'] or '':>8} "
              f"{'-' if in_scope is None else f'{in_scope:.3f}':>8} {'-' if oos is None else f'{oos:.3f}':>7} "
              f"{r['train_seconds']:7.2f} "
              f"{r['predict_ms_p50']:7.3f} {r['predict_ms_p99']:7.3f}", flush=True)
    results += slot_sets()
    if (spelling := spelling_set()) is not None:
        results.append(spelling)
    st = small_talk()
    results.append(st)
    print(f"{st['set']:28} train {st['train_seconds']} s, understand p50 {st['understand_ms_p50']} ms, "
          f"p99 {st['understand_ms_p99']} ms")
    out = BENCH / "results" / "nlu-latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"date": datetime.now(UTC).isoformat(), "machine": platform.node(),
                               "python": platform.python_version(), "results": results}, indent=2))
    print(f"written to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
