"""NLU resources kept unpacked in the cache folder: same answers as the packaged ones, reused, self-repairing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from parley.nlu import embeddings, identifier

langid = pytest.importorskip("py3langid.langid")

TEXTS = ["hello", "bonjour je voudrais une pizza", "I want a large pizza", "oui", "¿dónde está?", "", "12345"]


@pytest.fixture(scope="module")
def reference() -> object:
    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)


def test_cached_identifier_ranks_exactly_like_the_packaged_one(tmp_path: Path, reference: object) -> None:
    first = identifier.load_identifier(tmp_path)  # unpacks and writes the entry
    entries = [p for p in tmp_path.iterdir() if p.name.startswith("langid-")]
    assert len(entries) == 1 and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    second = identifier.load_identifier(tmp_path)  # maps the entry
    for text in TEXTS:
        assert first.rank(text) == second.rank(text) == reference.rank(text)  # type: ignore[attr-defined]


def test_damaged_entry_is_unpacked_again(tmp_path: Path, reference: object) -> None:
    identifier.load_identifier(tmp_path)
    entry = next(p for p in tmp_path.iterdir() if p.name.startswith("langid-"))
    (entry / "nextmove.npy").write_bytes(b"not an array")
    again = identifier.load_identifier(tmp_path)
    assert again.rank("bonjour") == reference.rank("bonjour")  # type: ignore[attr-defined]
    assert identifier.load_identifier(tmp_path).rank("hello") == reference.rank("hello")  # type: ignore[attr-defined]


def test_without_a_cache_folder_nothing_is_written(tmp_path: Path, reference: object) -> None:
    assert identifier.load_identifier(None).rank("hello") == reference.rank("hello")  # type: ignore[attr-defined]


def test_cached_embedding_table_encodes_exactly_like_the_packaged_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wordllama")
    monkeypatch.setattr(embeddings, "_loaded", {})
    reference = embeddings.load_embedder(None)
    assert reference is not None
    texts = ["I want a large pizza", "bonjour", ""]
    for _ in range(2):  # written, then mapped
        monkeypatch.setattr(embeddings, "_loaded", {})
        cached = embeddings.load_embedder(tmp_path)
        assert cached is not None and cached.identity == reference.identity
        assert np.array_equal(cached.encode(texts), reference.encode(texts))
    assert [p.name.startswith("wordllama-") for p in tmp_path.iterdir()] == [True]
