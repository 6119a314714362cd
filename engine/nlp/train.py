"""Rebuild the sentiment model: ``python -m engine.nlp.train [--data DIR] [--split test]``.

Trains on one TweetEval split (default: test, 12,284 tweets) and reports on
the other (validation, 2,000), never the same tweets. A tenth of the
training split is held out to choose the number of epochs and the class
offsets that maximise macro-F1; the final model is then fitted on the whole
training split. Writes ``engine/nlp/model/sentiment.npz``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from engine.nlp.components import analysis
from engine.nlp.features import N_FEATURES, Featurizer
from engine.nlp.pipeline import build_pipeline
from engine.nlp.sentiment import LABELS, MODEL_FILE, SentimentModel, batch_logits, softmax

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tweeteval-sentiment"
Batch = list[tuple[np.ndarray, np.ndarray]]


def read_split(data: Path, split: str) -> tuple[list[str], np.ndarray]:
    texts = (data / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = np.array([int(x) for x in (data / f"{split}_labels.txt").read_text().split()])
    if len(texts) != len(labels):
        raise SystemExit(f"{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels


def featurize(texts: list[str]) -> Batch:
    nlp = build_pipeline(upto="sift_sentiment")
    featurizer = Featurizer()
    return [featurizer.features(d, analysis(d).cues.count("unresolved")) for d in nlp.pipe(texts)]


def macro_f1(gold: np.ndarray, pred: np.ndarray, n: int = 3) -> float:
    scores = []
    for c in range(n):
        tp = np.sum((pred == c) & (gold == c))
        p = tp / max(1, np.sum(pred == c))
        r = tp / max(1, np.sum(gold == c))
        scores.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return float(np.mean(scores))


def fit(batch: Batch, labels: np.ndarray, epochs: int, l2: float = 2e-5, lr: float = 0.05) -> np.ndarray:
    """Softmax regression by full-batch Adam, classes weighted to balance them."""
    rows = np.repeat(np.arange(len(batch)), [len(b[0]) for b in batch])
    idx = np.concatenate([b[0] for b in batch])
    val = np.concatenate([b[1] for b in batch]).astype(np.float64)
    counts = np.bincount(labels, minlength=3)
    weight = (len(labels) / (3 * counts))[labels] / len(labels)
    onehot = np.eye(3)[labels]
    w = np.zeros((N_FEATURES, 3))
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, epochs + 1):
        probs = softmax(batch_logits(w, batch))
        delta = (probs - onehot) * weight[:, None]
        grad = np.stack(
            [np.bincount(idx, weights=val * delta[rows, c], minlength=N_FEATURES) for c in range(3)], axis=1
        )
        grad += l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w.astype(np.float32)


def tune_offsets(logits: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Class offsets (grid over negative and positive) that maximise macro-F1."""
    best, best_f1 = np.zeros(3, dtype=np.float32), -1.0
    grid = np.linspace(-1.0, 1.0, 21)
    for a in grid:
        for c in grid:
            off = np.array([a, 0.0, c], dtype=np.float32)
            f1 = macro_f1(gold, (logits + off).argmax(axis=1))
            if f1 > best_f1:
                best, best_f1 = off, f1
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="test", choices=["test", "val"])
    parser.add_argument("--epochs", type=int, nargs="+", default=[40, 80, 120])
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    other = "val" if args.split == "test" else "test"
    started = time.perf_counter()
    texts, labels = read_split(args.data, args.split)
    batch = featurize(texts)
    order = np.random.default_rng(13).permutation(len(batch))
    cut = len(batch) // 10
    held, train = order[:cut], order[cut:]
    results = []
    for epochs in args.epochs:
        w = fit([batch[i] for i in train], labels[train], epochs)
        logits = batch_logits(w, [batch[i] for i in held])
        off = tune_offsets(logits, labels[held])
        f1 = macro_f1(labels[held], (logits + off).argmax(axis=1))
        print(f"epochs={epochs}: held-out macro-F1 {f1:.4f} offsets {off.tolist()}")
        results.append((f1, epochs, off))
    f1, epochs, off = max(results, key=lambda r: r[0])
    model = SentimentModel(fit(batch, labels, epochs), off)
    model.save(args.out)
    eval_texts, eval_labels = read_split(args.data, other)
    pred = model.logits(featurize(eval_texts)).argmax(axis=1)
    print(
        f"trained on {args.split} ({len(texts)}), epochs={epochs}; {other} macro-F1 {macro_f1(eval_labels, pred):.4f}"
    )
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f}s"
    )
    print("labels:", ", ".join(LABELS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
