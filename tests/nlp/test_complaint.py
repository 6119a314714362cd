"""The complaint model: the runtime computes what training fitted, and training is reproducible."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from engine.nlp import complaint_train, enrich
from engine.nlp.complaint import N_WEIGHTS, ComplaintModel
from engine.nlp.errors import NlpModelError
from engine.nlp.modelfile import save

TEXTS = [
    "@AcmeCare my order never arrived and nobody answers the phone",
    "@delta flight delayed 5 hours, no food vouchers, no updates. Unacceptable",
    "@AcmeCare thanks, the replacement came this morning!",
    "lovely walk by the river with my sister today",
    "how do I change the delivery address on my Acme order?",
    "Trump's cabinet picks are a disaster and the GOP still supports him. Terrible.",
    "the Acme app crashes every single time I open my account page",
    "",
]


def test_the_runtime_score_is_the_trained_function_of_the_features() -> None:
    """The scorer's fourth logit column plus the rules' part equals the model applied to training's triplets."""
    model = ComplaintModel.load()
    expected = complaint_train.probabilities(model, complaint_train.featurize(TEXTS))
    got = np.array([enrich(t)["complaint_score"] for t in TEXTS])
    assert np.allclose(got, expected, atol=6e-5)  # the runtime rounds to four decimals
    assert got.min() >= 0.0 and got.max() <= 1.0


def test_intent_follows_the_threshold() -> None:
    model = ComplaintModel.load()
    for text in TEXTS:
        found = enrich(text)
        if found["intent"] not in ("spam", "cancellation"):
            assert (found["intent"] == "complaint") == (
                found["complaint_score"] >= round(model.threshold, 4) - 1e-4
            )


def _tiny_corpus() -> tuple[complaint_train.Matrix, np.ndarray, np.ndarray]:
    complaints = [
        "@acme my parcel is lost again",
        "@acme charged twice and no refund",
        "@acme app keeps crashing",
        "@acme still waiting for my order",
        "@acme the router has been down for days",
        "@acme worst support ever, hung up on me",
    ]
    others = [
        "@acme where is your nearest store?",
        "nice weather today",
        "@acme love the new colours",
        "watching the game tonight",
        "@acme do you ship to Canada?",
        "coffee first, then work",
    ]
    texts = complaints + others
    labels = np.array([1] * len(complaints) + [0] * len(others))
    folds = np.array([0, 1, 2, 0, 1, 2] * 2)
    return complaint_train.featurize(texts), labels, folds


GRID = (complaint_train.Setting(1e-2, 0.5), complaint_train.Setting(3e-2, 1.0))


def test_the_same_data_gives_a_byte_identical_model(tmp_path) -> None:
    """Twice, and once with the grid spread over processes as ``--jobs 2`` does: the same bytes."""
    matrix, labels, folds = _tiny_corpus()
    paths = [tmp_path / f"{k}.npz" for k in range(3)]
    complaint_train.train(matrix, labels, folds, grid=GRID).model.save(paths[0])
    complaint_train.train(matrix, labels, folds, grid=GRID).model.save(paths[1])
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        complaint_train.train(matrix, labels, folds, grid=GRID, run=pool.map).model.save(paths[2])
    assert paths[0].read_bytes() == paths[1].read_bytes() == paths[2].read_bytes()
    loaded = ComplaintModel.load(paths[0])
    assert loaded.weights.shape == (N_WEIGHTS,) and 0.0 < loaded.threshold < 1.0


def test_a_held_out_fold_is_scored_without_reading_its_labels() -> None:
    """Nested cross-validation: the setting, calibration and threshold of a held-out fold come from the
    other folds alone, so turning its labels upside down changes nothing it is scored with."""
    matrix, labels, folds = _tiny_corpus()
    flipped = np.where(folds == 0, 1 - labels, labels)
    first = complaint_train.held_out_fold(matrix, labels, folds, 0, GRID)
    second = complaint_train.held_out_fold(matrix, flipped, folds, 0, GRID)
    assert np.array_equal(first[0], second[0])
    assert first[1].setting == second[1].setting
    assert first[1].model.threshold == second[1].model.threshold
    assert set(first[1].f1_by_setting) == set(GRID)


def test_a_model_for_other_features_is_refused_with_what_to_do(tmp_path) -> None:
    path = tmp_path / "old.npz"
    save(
        path,
        {"weights": np.zeros(10, dtype=np.float32), "calibration": np.zeros(4), "rules": np.array(["x"])},
    )
    with pytest.raises(NlpModelError, match=r"python -m engine\.nlp\.train"):
        ComplaintModel.load(path)
    with pytest.raises(NlpModelError, match="cannot be read"):
        ComplaintModel.load(tmp_path / "missing.npz")


def test_threshold_and_calibration_helpers() -> None:
    scores = np.array([3.0, 2.0, 1.0, 0.0, -1.0])
    labels = np.array([1, 1, 0, 1, 0])
    threshold, f1 = complaint_train.best_threshold(scores, labels)
    assert threshold == 0.0 and f1 == pytest.approx(2 * 3 / (4 + 3))
    a, _ = complaint_train.platt(np.array([-2.0, -1.0, 1.0, 2.0, 0.5, -0.5]), np.array([0, 0, 1, 1, 0, 1]))
    assert a > 0  # higher raw scores mean likelier complaints
