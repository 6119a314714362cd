"""Training and cross-validation of the complaint model (run by ``python -m engine.nlp.train``).

Data: ``complaints.csv`` of ``/work/shared/data/complaints-train`` (read
from there, never copied): 1,974 tweets addressed to companies or random,
judged complaint or not by annotators (Preotiuc-Pietro et al., ACL 2019),
in five sectors plus two groups of random control tweets with no
complaints.

Beside it, the ``dev`` fold of Sift's own intent labels of TweetEval
(``docs/nlp/intent-labels.tsv``: 7,179 general tweets, complaint or
cancellation read as complaint) is always in training and never held out:
general Twitter is where political and news negativity lives, which the
brand-care corpus barely has, and a complaint model must not read it as
complaints. The ``test`` fold of those labels is never trained on.

Folds are by sector: fold ``k`` is the ``k``-th sector with a fifth of the
control tweets (by a hash of the tweet id), so a held-out fold is a sector
the model never saw, mixed with tweets that are no complaint at all.
``train`` chooses everything on the folds it is given, by leave-one-fold-out
scores over them: the L2 penalty and the weight of a general tweet
together (the pair with the best out-of-fold F1), the Platt calibration on
the chosen pair's out-of-fold scores, and the decision threshold as the
cut of those calibrated scores with the best F1; then it fits the model on
all of them. ``cross_validate`` holds out each fold in turn and runs the
whole of ``train`` on the rest (nested cross-validation: the inner folds
are the four training sectors), so no choice sees the sector it is scored
on; the shipped model runs the same ``train`` on all five.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.nlp.complaint import N_WEIGHTS, ComplaintModel
from engine.nlp.components import analysis
from engine.nlp.features import N_FEATURES, Featurizer
from engine.nlp.intent import RULE_FEATURES, rule_features
from engine.nlp.pipeline import build_pipeline

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DEFAULT_DATA = SHARED_DATA / "complaints-train"
DEFAULT_GENERAL = SHARED_DATA / "tweeteval-sentiment"
INTENT_LABELS = Path(__file__).resolve().parents[2] / "docs" / "nlp" / "intent-labels.tsv"
ALWAYS_TRAIN = -1  # the fold of the general tweets: never held out
SECTORS = ("apparel", "other", "retail", "services", "software")
CONTROLS = ("random_reply", "random_tweet")
L2_GRID = (3e-3, 1e-2, 3e-2)
# How much a general tweet counts beside a brand-care one: at 1.0 they outnumber the brand-care
# ones almost four to one, at 0.2 political rants read as complaints. Chosen by ``train``.
GENERAL_WEIGHT_GRID = (0.2, 0.5, 1.0)
EPOCHS = 150


@dataclass
class Corpus:
    texts: list[str]
    labels: np.ndarray  # 1 complaint, 0 not
    domains: np.ndarray
    folds: (
        np.ndarray
    )  # sector index; control tweets spread over the five by a hash of their id; -1 always trained

    @property
    def held_out(self) -> np.ndarray:
        """The docs cross-validation scores: the sectors and the control tweets."""
        return self.folds != ALWAYS_TRAIN


@dataclass
class Matrix:
    """(doc, feature, value) triplets over ``N_WEIGHTS`` features, and the doc count."""

    docs: np.ndarray
    idx: np.ndarray
    values: np.ndarray
    n: int

    def subset(self, keep: np.ndarray) -> Matrix:
        row = np.full(self.n, -1, dtype=np.int64)
        row[keep] = np.arange(len(keep))
        mask = row[self.docs] >= 0
        return Matrix(row[self.docs[mask]], self.idx[mask], self.values[mask], len(keep))


def read_corpus(data: Path = DEFAULT_DATA, general: Path | None = DEFAULT_GENERAL) -> Corpus:
    """The complaints corpus, then (unless ``general`` is None) the general tweets of the intent labels' dev fold."""
    brand = _read_complaints(data)
    if general is None:
        return brand
    texts, labels = read_general(general)
    return Corpus(
        brand.texts + texts,
        np.concatenate([brand.labels, labels]),
        np.concatenate([brand.domains, np.full(len(texts), "tweeteval_dev")]),
        np.concatenate([brand.folds, np.full(len(texts), ALWAYS_TRAIN)]),
    )


def read_general(data: Path, fold: str = "dev") -> tuple[list[str], np.ndarray]:
    """Texts of one fold of ``intent-labels.tsv`` (TweetEval tweets), 1 where the label is complaint or cancellation."""
    lines: dict[str, list[str]] = {}
    texts, labels = [], []
    with INTENT_LABELS.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["fold"] != fold:
                continue
            if row["split"] not in lines:
                path = data / f"{row['split']}_text.txt"
                try:
                    lines[row["split"]] = path.read_text(encoding="utf-8").splitlines()
                except OSError as exc:
                    raise SystemExit(f"{path} cannot be read ({exc.strerror}); pass --data DIR") from exc
            texts.append(lines[row["split"]][int(row["line"]) - 1])
            labels.append(int(row["label"] in ("complaint", "cancellation")))
    return texts, np.array(labels)


def _read_complaints(data: Path) -> Corpus:
    path = data / "complaints.csv"
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise SystemExit(f"{path} cannot be read ({exc.strerror}); pass --complaints DIR") from exc
    known = set(SECTORS) | set(CONTROLS)
    unknown = sorted({r["domain"] for r in rows} - known)
    if unknown:
        raise SystemExit(f"{path}: unknown domains {unknown}; expected {sorted(known)}")
    domains = np.array([r["domain"] for r in rows])
    folds = np.array(
        [
            SECTORS.index(r["domain"])
            if r["domain"] in SECTORS
            else zlib.crc32(r["tweet_id"].encode()) % len(SECTORS)
            for r in rows
        ]
    )
    labels = np.array([int(r["complaint"]) for r in rows])
    return Corpus([r["text"] for r in rows], labels, domains, folds)


def featurize(texts: list[str]) -> Matrix:
    """The features the runtime scores: the sentiment model's (hashed and dense) and the rules' verdicts."""
    nlp = build_pipeline(upto="sift_intent")
    docs = list(nlp.pipe(texts))
    found = [analysis(d) for d in docs]
    batch = Featurizer().batch(docs, [f.cues.count("unresolved") for f in found], texts)
    docs_, idx, values = batch.coo()
    rules = np.array([rule_features(f) for f in found], dtype=np.float64).reshape(
        len(texts), len(RULE_FEATURES)
    )
    n = len(texts)
    return Matrix(
        np.concatenate([docs_, np.repeat(np.arange(n, dtype=np.int64), len(RULE_FEATURES))]),
        np.concatenate([idx, np.tile(np.arange(N_FEATURES, N_WEIGHTS, dtype=np.int64), n)]),
        np.concatenate([values.astype(np.float64), rules.ravel()]),
        n,
    )


@dataclass(frozen=True)
class Setting:
    """The hyper-parameters ``train`` chooses between: the L2 penalty and the weight of a general tweet."""

    l2: float
    general_weight: float

    def __str__(self) -> str:
        return f"L2 {self.l2:g}, general weight {self.general_weight:g}"


GRID = tuple(Setting(l2, g) for g in GENERAL_WEIGHT_GRID for l2 in L2_GRID)


def fit(
    m: Matrix, labels: np.ndarray, folds: np.ndarray, setting: Setting, epochs: int = EPOCHS, lr: float = 0.05
) -> tuple[np.ndarray, float]:
    """Logistic regression by full-batch Adam with a cosine-decayed step.

    Each general tweet (fold ``ALWAYS_TRAIN``) counts ``setting.general_weight``
    of a brand-care one; then the two classes are weighted to the same total.
    """
    weight = np.where(folds == ALWAYS_TRAIN, setting.general_weight, 1.0)
    for label in (0, 1):
        mine = labels == label
        weight[mine] *= 0.5 / max(float(weight[mine].sum()), 1e-9)
    w = np.zeros(N_WEIGHTS + 1)  # the last one is the bias, not penalised
    first = np.zeros_like(w)
    second = np.zeros_like(w)
    penalty = np.full(N_WEIGHTS + 1, setting.l2)
    penalty[-1] = 0.0
    for t in range(1, epochs + 1):
        z = raw_scores(w[:-1], float(w[-1]), m)
        delta = (1 / (1 + np.exp(-z)) - labels) * weight
        # annotated: numpy's stubs type bincount as integers even when it sums float weights
        grad: np.ndarray = np.concatenate(
            [np.bincount(m.idx, weights=m.values * delta[m.docs], minlength=N_WEIGHTS), [delta.sum()]]
        )
        grad += penalty * w
        first = 0.9 * first + 0.1 * grad
        second = 0.999 * second + 0.001 * grad * grad
        step = lr * 0.5 * (1 + np.cos(np.pi * (t - 1) / epochs))
        w -= step * (first / (1 - 0.9**t)) / (np.sqrt(second / (1 - 0.999**t)) + 1e-8)
    return w[:-1], float(w[-1])


def raw_scores(w: np.ndarray, bias: float, m: Matrix) -> np.ndarray:
    return np.bincount(m.docs, weights=w[m.idx] * m.values, minlength=m.n) + bias


def out_of_fold(m: Matrix, labels: np.ndarray, folds: np.ndarray, setting: Setting) -> np.ndarray:
    """Raw score of each doc from a model fitted without its fold."""
    scores = np.zeros(m.n)
    for fold in np.unique(folds[folds != ALWAYS_TRAIN]):
        test, train = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
        w, b = fit(m.subset(train), labels[train], folds[train], setting)
        scores[test] = raw_scores(w, b, m.subset(test))
    return scores


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, F1): the cut ``score >= threshold`` that maximises complaint F1 over these scores."""
    order = np.argsort(-scores, kind="stable")
    ranked, gold = scores[order], labels[order]
    tp = np.cumsum(gold)
    predicted = np.arange(1, len(gold) + 1)
    f1 = 2 * tp / (predicted + max(int(gold.sum()), 1))
    last_of_tie = np.append(ranked[1:] != ranked[:-1], True)  # a cut cannot split equal scores
    f1 = np.where(last_of_tie, f1, -1.0)
    best = int(np.argmax(f1))
    return float(ranked[best]), float(f1[best])


def platt(scores: np.ndarray, labels: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """(a, b) of ``p = 1 / (1 + exp(-(a * score + b)))`` by Newton's method, with Platt's smoothed targets."""
    positives, negatives = int(labels.sum()), int(len(labels) - labels.sum())
    target = np.where(labels == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    x = np.stack([scores, np.ones_like(scores)], axis=1)
    params = np.array([1.0, 0.0])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(x @ params, -60, 60)))
        gradient = x.T @ (p - target)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        params -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(params[0]), float(params[1])


@dataclass
class Choice:
    """What ``train`` chose, and the out-of-fold F1 of each setting it tried."""

    setting: Setting
    f1_by_setting: dict[Setting, float]
    model: ComplaintModel


def train(
    m: Matrix,
    labels: np.ndarray,
    folds: np.ndarray,
    grid: tuple[Setting, ...] = GRID,
    run: Callable[..., Iterable[Any]] = map,
) -> Choice:
    """The model for these docs: setting, calibration and threshold from leave-one-fold-out scores, then fitted on all.

    ``run`` maps ``out_of_fold`` over the grid (``map``, or a process pool's).
    A tie in F1 goes to the stronger penalty, then to the lighter general weight.
    """
    scored = folds != ALWAYS_TRAIN  # the docs out-of-fold scores exist for
    gold = labels[scored]
    n = len(grid)
    fitted = run(out_of_fold, [m] * n, [labels] * n, [folds] * n, grid)
    scores = {s: oof[scored] for s, oof in zip(grid, fitted, strict=True)}
    f1_by_setting = {s: best_threshold(oof, gold)[1] for s, oof in scores.items()}
    setting = max(grid, key=lambda s: (f1_by_setting[s], s.l2, -s.general_weight))
    scale, shift = platt(scores[setting], gold)
    probability = 1 / (1 + np.exp(-np.clip(scale * scores[setting] + shift, -60, 60)))
    threshold = best_threshold(probability, gold)[0]
    w, bias = fit(m, labels, folds, setting)
    model = ComplaintModel(w.astype(np.float32), bias, scale, shift, threshold)
    return Choice(setting, f1_by_setting, model)


def probabilities(model: ComplaintModel, m: Matrix) -> np.ndarray:
    """The runtime's probabilities, computed from the triplets (as float32 weights, like the shipped file)."""
    raw = raw_scores(model.weights.astype(np.float64), model.bias, m)
    return 1 / (1 + np.exp(-np.clip(model.scale * raw + model.shift, -60, 60)))


@dataclass
class HeldOut:
    """Cross-validation: each doc's probability and decision from the model trained without its fold."""

    probability: np.ndarray
    predicted: np.ndarray
    choices: list[Choice]


def held_out_fold(
    m: Matrix, labels: np.ndarray, folds: np.ndarray, fold: int, grid: tuple[Setting, ...] = GRID
) -> tuple[np.ndarray, Choice]:
    """The probabilities of fold ``fold``'s docs from the whole of ``train`` run on the other folds, and its choice."""
    test, train_at = np.flatnonzero(folds == fold), np.flatnonzero(folds != fold)
    choice = train(m.subset(train_at), labels[train_at], folds[train_at], grid)
    return probabilities(choice.model, m.subset(test)), choice


def cross_validate(
    m: Matrix, labels: np.ndarray, folds: np.ndarray, run: Callable[..., Iterable[Any]] = map
) -> HeldOut:
    """Each fold held out in turn; ``run`` maps ``held_out_fold`` over the folds (``map``, or a process pool's)."""
    probability = np.zeros(m.n)
    predicted = np.zeros(m.n, dtype=bool)
    choices = []
    held = [int(f) for f in np.unique(folds[folds != ALWAYS_TRAIN])]
    results = run(held_out_fold, *zip(*[(m, labels, folds, fold) for fold in held], strict=True))
    for fold, (fold_probability, choice) in zip(held, results, strict=True):
        test = np.flatnonzero(folds == fold)
        probability[test] = fold_probability
        predicted[test] = fold_probability >= choice.model.threshold
        choices.append(choice)
    return HeldOut(probability, predicted, choices)


def random_folds(corpus: Corpus, k: int = len(SECTORS), seed: int = 13) -> np.ndarray:
    """The held-out docs in ``k`` label-stratified random folds (shown beside the sector folds, never alone)."""
    rng = np.random.default_rng(seed)
    folds = corpus.folds.copy()
    for label in (0, 1):
        at = rng.permutation(np.flatnonzero((corpus.labels == label) & corpus.held_out))
        folds[at] = np.arange(len(at)) % k
    return folds
