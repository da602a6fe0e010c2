from __future__ import annotations

import numpy as np
import pytest

from knowledge import classifier as classifier_module
from knowledge.classifier import EntryClassifier


def clusters(n_classes: int, per_class: int = 5, dim: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim))
    x = np.repeat(centers, per_class, axis=0) + rng.normal(0, 0.3, (n_classes * per_class, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = [f"e{i}" for i in range(n_classes) for _ in range(per_class)]
    return x.astype(np.float32), ids, centers / np.linalg.norm(centers, axis=1, keepdims=True)


@pytest.mark.parametrize("n_classes", [2, 5])
def test_learns_the_entries_and_gives_probabilities(n_classes, tmp_path):
    x, ids, centers = clusters(n_classes)
    clf = EntryClassifier.train(x, ids)
    assert clf is not None and clf.classes == sorted(set(ids))
    for i, center in enumerate(centers):
        p = clf.probabilities(center.astype(np.float32))
        assert p.sum() == pytest.approx(1.0) and clf.classes[int(p.argmax())] == f"e{i}"
    clf.save(tmp_path / "c.npz")
    again = EntryClassifier.load(tmp_path / "c.npz")
    assert again is not None and again.column == clf.column
    assert np.allclose(again.probabilities(centers[0].astype(np.float32)), clf.probabilities(centers[0]))


def test_skipped_for_one_entry_or_too_large_kbs(monkeypatch, tmp_path):
    x, ids, _ = clusters(3)
    assert EntryClassifier.train(x[:5], ids[:5]) is None
    monkeypatch.setattr(classifier_module, "MAX_UNITS_X_ENTRIES", 10)
    assert EntryClassifier.train(x, ids) is None
    assert EntryClassifier.load(tmp_path / "missing.npz") is None
