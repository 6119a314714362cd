"""Rebuild the NLP models: ``python -m engine.nlp.train [--data DIR] [--brands DIR] [--complaints DIR]``.

The sentiment model first, then the complaint model, whose features include
the sentiment model's output (``complaint_train``; ``--skip-sentiment``
retrains the complaint model alone on the shipped sentiment model,
``--skip-complaint`` the sentiment model alone).

Sentiment trains on a pool of one TweetEval split (default: test, 12,284
tweets) and the training parts of the brand-sentiment sets
(``brand_data``: about four fifths of each, by a hash of the text), and
reports on the other TweetEval split (validation, 2,000), never the same
tweets; ``bench/nlp.py`` scores the held-out brand fifths. An inner tenth
of the pool (by the same hash) is held out to choose the L2 penalty and the
weight of a brand tweet beside a TweetEval one, by the mean macro-F1 of the
three sources on it. Classes are weighted to balance them, so no class
offsets are added by default: offsets tuned on a held-out part learn the
training split's priors (a third negative; validation has a sixth) and
cost 0.04 macro-F1 on the other split (``--tune-offsets`` to try). The final
model is then fitted on the whole pool. Writes
``engine/nlp/model/sentiment.npz`` and the list of frequent words
``engine/nlp/model/vocab.txt`` (interned once at start-up, from the TweetEval
split alone). Same data, same files, byte for byte (``modelfile``).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from engine.nlp import brand_data, complaint_train
from engine.nlp.complaint import MODEL_FILE as COMPLAINT_FILE
from engine.nlp.components import analysis
from engine.nlp.features import N_FEATURES, Featurizer, hash_string, vader_lexicon
from engine.nlp.pipeline import build_pipeline
from engine.nlp.resources import TOPICS_FILE, VOCAB_FILE, load_catalogue, load_groups
from engine.nlp.sentiment import LABELS, MODEL_FILE, SentimentModel, coo_logits, softmax
from engine.nlp.tokenizer import social_norm

DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "tweeteval-sentiment"
Features = tuple[np.ndarray, np.ndarray, np.ndarray, int]
# Single-word topic phrases that judge or tell what happened rather than name a thing: they keep their
# features (and those in VADER's lexicon keep theirs anyway).
TOPIC_JUDGEMENTS = frozenset(
    [
        "overcharged",
        "cracked",
        "overheating",
        "glitch",
        "bug",
        "buggy",
        "crashes",
        "crashing",
        "expensive",
        "overpriced",
        "cheaper",
        "exploded",
        "explode",
        "exploding",
        "burned",
        "burnt",
        "burn",
        "unsafe",
        "hazard",
        "smoke",
        "sparks",
        "outage",
        "down",
        "disconnected",
        "blackout",
        "stranded",
        "overbooked",
        "escalate",
        "delivered",
        "deliver",
        "shipped",
        "dispatched",
        "dispatch",
        "refunded",
        "reimburse",
        "returned",
        "online",
    ]
)


def neutral_norms() -> tuple[str, ...]:
    """The norms whose own features the sentiment model leaves out: the names of things a mention is about.

    Single-word aliases of the catalogue (brands and products) and
    single-word phrases of the topic taxonomy that name a thing (battery,
    refund, app, flight; not ``TOPIC_JUDGEMENTS`` nor VADER's words). Brand
    tweets about a thing are often negative ("battery" is in 69 brand training
    tweets, 29 of them negative, against 9% of all of them), so its n-grams learned
    a polarity that outweighed what is said of it: "The battery is not bad
    at all" read negative. Sentiment is of what is said; the topic is
    reported beside it, and the complaint model keeps these words. Stored
    in the model file (``SentimentModel.neutral``), so editing the data
    files changes nothing until the model is trained again.
    """
    lexicon = vader_lexicon()
    words = {social_norm(a) for e in load_catalogue() for a in e.aliases if " " not in a and "@" not in a}
    for group in load_groups(TOPICS_FILE, "topics"):
        words.update(
            p for p in group.phrases if " " not in p and p not in lexicon and p not in TOPIC_JUDGEMENTS
        )
    return tuple(sorted(words))


def read_split(data: Path, split: str) -> tuple[list[str], np.ndarray]:
    texts = (data / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = np.array([int(x) for x in (data / f"{split}_labels.txt").read_text().split()])
    if len(texts) != len(labels):
        raise SystemExit(f"{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels


def featurize(texts: list[str], neutral: tuple[str, ...] = ()) -> Features:
    """The training matrix of ``texts`` as (doc, index, value) triplets, plus the doc count.

    The norms in ``neutral`` contribute no unigram or n-grams (``neutral_norms``).
    """
    nlp = build_pipeline(upto="sift_sentiment")
    featurizer = Featurizer()
    docs = list(nlp.pipe(texts))
    batch = featurizer.batch(docs, [analysis(d).cues.count("unresolved") for d in docs])
    mask = featurizer.table.rows_of(frozenset(hash_string(n) for n in neutral)) if neutral else None
    return (*batch.coo(mask), len(docs))


def subset(features: Features, keep: np.ndarray) -> Features:
    docs, idx, val, n = features
    new_row = np.full(n, -1, dtype=np.int64)
    new_row[keep] = np.arange(len(keep))
    mask = new_row[docs] >= 0
    return new_row[docs[mask]], idx[mask], val[mask], len(keep)


def macro_f1(gold: np.ndarray, pred: np.ndarray, n: int = 3, weight: np.ndarray | None = None) -> float:
    """Macro-F1; with ``weight`` each item counts that much (used to equalise class priors)."""
    w = np.ones(len(gold)) if weight is None else weight
    scores = []
    for c in range(n):
        tp = np.sum(w * ((pred == c) & (gold == c)))
        p = tp / max(1e-9, np.sum(w * (pred == c)))
        r = tp / max(1e-9, np.sum(w * (gold == c)))
        scores.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return float(np.mean(scores))


def balanced(labels: np.ndarray) -> np.ndarray:
    """Per-item weights that give each class the same total weight."""
    counts = np.bincount(labels, minlength=3)
    return (len(labels) / (3 * np.maximum(counts, 1)))[labels]


def class_balanced(labels: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Per-item weights: ``sample_weight`` (default 1) scaled so that each class sums to a third."""
    weight = np.ones(len(labels)) if sample_weight is None else sample_weight.astype(np.float64)
    totals = np.bincount(labels, weights=weight, minlength=3)
    return weight / (3 * np.maximum(totals, 1e-12))[labels]


def fit(
    features: Features,
    labels: np.ndarray,
    epochs: int,
    l2: float = 2e-5,
    lr: float = 0.05,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Softmax regression by full-batch Adam with a cosine-decayed step, classes weighted to balance them.

    ``sample_weight`` weighs the items before the classes are balanced
    (how much a brand tweet counts beside a TweetEval one). The decay lets
    the weights settle: with a constant step, held-out macro-F1 jumped by
    0.02 between neighbouring L2 values, too much noise to choose the
    penalty by.
    """
    docs, idx, val, n = features
    val = val.astype(np.float64)
    weight = class_balanced(labels, sample_weight)
    onehot = np.eye(3)[labels]
    w = np.zeros((N_FEATURES, 3))
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, epochs + 1):
        probs = softmax(coo_logits(w, docs, idx, val, n))
        delta = (probs - onehot) * weight[:, None]
        # annotated: numpy's stubs type bincount as integers even when it sums float weights
        grad: np.ndarray = np.stack(
            [np.bincount(idx, weights=val * delta[docs, c], minlength=N_FEATURES) for c in range(3)], axis=1
        )
        grad += l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        step = lr * 0.5 * (1 + np.cos(np.pi * (t - 1) / epochs))
        w -= step * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w.astype(np.float32)


def tune_offsets(logits: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Class offsets (grid over negative and positive) that maximise macro-F1 at equal class priors.

    Equal priors rather than the training split's: TweetEval's splits differ
    (test is a third negative, validation a sixth), and so will brands.
    """
    best, best_f1 = np.zeros(3, dtype=np.float32), -1.0
    grid = np.linspace(-1.0, 1.0, 21)
    weight = balanced(gold)
    for a in grid:
        for c in grid:
            off = np.array([a, 0.0, c], dtype=np.float32)
            f1 = macro_f1(gold, (logits + off).argmax(axis=1), weight=weight)
            if f1 > best_f1:
                best, best_f1 = off, f1
    return best


def write_vocab(texts: list[str], path: Path, min_count: int = 2) -> int:
    """Whitespace chunks seen at least ``min_count`` times, most frequent first, for ``warm_vocab``.

    Handles and URLs are left out, and so are chunks seen once: the list warms common
    words, and must not carry rare strings of the training tweets into the repository.
    """
    counts = Counter(w for t in texts for w in t.split() if "@" not in w and "http" not in w)
    words = [w for w, c in counts.most_common() if c >= min_count]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(words) + "\n", encoding="utf-8")
    return len(words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="test", choices=["test", "val"])
    parser.add_argument("--epochs", type=int, nargs="+", default=[200])
    parser.add_argument("--l2", type=float, nargs="+", default=[3e-3, 1e-2, 3e-2])
    parser.add_argument("--brands", type=Path, default=brand_data.DEFAULT_DIR)
    parser.add_argument(
        "--brand-weight",
        type=float,
        nargs="+",
        default=[0.5, 1.0, 2.0],
        help="weights of a brand tweet beside a TweetEval one to choose from (on the inner part)",
    )
    parser.add_argument(
        "--tune-offsets",
        action="store_true",
        help="tune class offsets on the held-out tenth (off: they fit the training split's priors)",
    )
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    parser.add_argument("--complaints", type=Path, default=complaint_train.DEFAULT_DATA)
    parser.add_argument("--complaint-out", type=Path, default=COMPLAINT_FILE)
    parser.add_argument("--skip-sentiment", action="store_true", help="train the complaint model alone")
    parser.add_argument("--skip-complaint", action="store_true", help="train the sentiment model alone")
    parser.add_argument("--vocab", type=Path, default=VOCAB_FILE)
    parser.add_argument(
        "--jobs", type=int, default=1, help="processes for the complaint model's grid (same model either way)"
    )
    args = parser.parse_args(argv)
    if not args.skip_sentiment:
        train_sentiment(args)
    if not args.skip_complaint:
        train_complaint(args.complaints, args.data, args.complaint_out, args.jobs)
    return 0


def train_complaint(data: Path, general: Path, out: Path, jobs: int = 1) -> None:
    """The shipped complaint model: ``complaint_train.train`` on all five sectors, its grid over ``jobs`` processes."""
    started = time.perf_counter()
    corpus = complaint_train.read_corpus(data, general)
    matrix = complaint_train.featurize(corpus.texts)
    if jobs > 1:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            choice = complaint_train.train(matrix, corpus.labels, corpus.folds, run=pool.map)
    else:
        choice = complaint_train.train(matrix, corpus.labels, corpus.folds)
    choice.model.save(out)
    tried = "; ".join(f"{setting}: {f1:.3f}" for setting, f1 in choice.f1_by_setting.items())
    print(
        f"complaint model: {matrix.n} tweets ({int(corpus.labels.sum())} complaints, "
        f"{int((~corpus.held_out).sum())} of them general tweets always trained on), "
        f"leave-one-sector-out F1 by setting {{{tried}}}; chose {choice.setting}, "
        f"threshold {choice.model.threshold:.3f}, Platt a={choice.model.scale:.3f} b={choice.model.shift:.3f}"
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f}s")


def train_sentiment(args: argparse.Namespace) -> None:
    """Fit on the training pool, choosing L2 and the brand weight on its inner validation part only."""
    other = "val" if args.split == "test" else "test"
    started = time.perf_counter()
    general, general_labels = read_split(args.data, args.split)
    sets = brand_data.read_sets(args.brands)
    texts, labels, source = list(general), [general_labels], [np.zeros(len(general), dtype=np.int64)]
    for k, brand_set in enumerate(sets, start=1):
        part_texts, part_labels = brand_set.part(brand_data.TRAIN, brand_data.INNER)
        texts += part_texts
        labels.append(part_labels)
        source.append(np.full(len(part_texts), k, dtype=np.int64))
    label = np.concatenate(labels)
    origin = np.concatenate(source)
    names = [args.split, *(b.name for b in sets)]
    counts = ", ".join(f"{name} {int((origin == k).sum())}" for k, name in enumerate(names))
    print(f"training pool: {len(texts)} tweets ({counts}); brand held-out fifths never read here")
    inner_mask = np.array([brand_data.is_inner(t) for t in texts])
    neutral = neutral_norms()
    print(f"{len(neutral)} topic and product words carry no sentiment of their own (neutral_norms)")
    features = featurize(texts, neutral)
    inner, train = np.flatnonzero(inner_mask), np.flatnonzero(~inner_mask)
    inner_features = subset(features, inner)
    results = []
    if len(args.brand_weight) * len(args.epochs) * len(args.l2) == 1:  # nothing to choose: no inner fit
        print("one combination given: nothing is chosen on the inner part")
        results.append(
            (float("nan"), args.brand_weight[0], args.epochs[0], args.l2[0], np.zeros(3, np.float32))
        )
    for brand_weight in args.brand_weight if not results else []:
        sample_weight = np.where(origin == 0, 1.0, brand_weight)
        for epochs in args.epochs:
            for l2 in args.l2:
                w = fit(
                    subset(features, train), label[train], epochs, l2=l2, sample_weight=sample_weight[train]
                )
                logits = coo_logits(w, *inner_features)
                off = (
                    tune_offsets(logits, label[inner]) if args.tune_offsets else np.zeros(3, dtype=np.float32)
                )
                pred = (logits + off).argmax(axis=1)
                per_source = [
                    macro_f1(label[inner][origin[inner] == k], pred[origin[inner] == k])
                    for k in range(len(names))
                ]
                f1 = float(np.mean(per_source))
                shown = " ".join(f"{name} {value:.4f}" for name, value in zip(names, per_source, strict=True))
                print(
                    f"brand weight {brand_weight} epochs={epochs} l2={l2}: inner macro-F1 mean {f1:.4f} "
                    f"({shown}) offsets {off.tolist()}"
                )
                results.append((f1, brand_weight, epochs, l2, off))
    f1, brand_weight, epochs, l2, off = max(results, key=lambda r: r[0])
    sample_weight = np.where(origin == 0, 1.0, brand_weight)
    model = SentimentModel(fit(features, label, epochs, l2=l2, sample_weight=sample_weight), off, neutral)
    model.save(args.out)
    words = write_vocab(general, args.vocab)
    eval_texts, eval_labels = read_split(args.data, other)
    pred = (coo_logits(model.weights, *featurize(eval_texts, neutral)) + off).argmax(axis=1)
    print(
        f"chose brand weight {brand_weight}, epochs={epochs}, l2={l2} (inner macro-F1 {f1:.4f}); "
        f"{other} macro-F1 {macro_f1(eval_labels, pred):.4f} (bench/nlp.py reports the held-out brand parts)"
    )
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) and {args.vocab} ({words} words) "
        f"in {time.perf_counter() - started:.0f}s"
    )
    print("labels:", ", ".join(LABELS))


if __name__ == "__main__":
    sys.exit(main())
