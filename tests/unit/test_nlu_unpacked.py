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


def test_a_message_is_tokenized_word_by_word_exactly_as_the_whole_sentence() -> None:
    """The prediction path tokenizes through a per-word cache; training tokenizes whole sentences.
    Both must give the same ids, or a message would not look like the same words in training."""
    pytest.importorskip("wordllama")
    embedder = embeddings.load_embedder(None)
    assert embedder is not None
    texts = ["What's the weather like in Paris tomorrow?", "je voudrais réserver une table pour 4 à 20h30",
             "order #1234 costs $56.70!!", "naïve café — déjà vu 🍕🍕 ok", "  spaces   and\ttabs  ", "",
             "mañana über straße 東京 ١٢٣", "e-mail: ada@example.com https://example.com/a?b=c"]
    for _ in range(2):  # cold, then from the cache
        for text in texts:
            whole = embedder.tokenizer.encode(" ".join(text.lower().split()), add_special_tokens=False).ids
            assert embedder.token_ids(text) == whole, text
            assert np.array_equal(embedder.encode_one(text), embedder.encode([text])[0])
