"""Linear sentiment model over hashed features (see ``features``).

A multinomial logistic regression stored as one weight matrix (float16 in
``model/sentiment.npz``, rebuilt by ``python -m engine.nlp.train``). The
score is ``p(positive) - p(negative)``, in -1..1.

Scoring does not build the sparse matrix: a norm always contributes the
same logits (unigram plus its character n-grams, or the negated unigram),
so those are summed once per norm into a table that grows with the norm
table, and a batch is scored by gathering table rows and bigram weights
and summing them per doc with one cumulative sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.nlp import modelfile
from engine.nlp.errors import NlpModelError
from engine.nlp.features import N_FEATURES, N_HASHED, FeatureBatch, NormTable, hash_string

LABELS = ("negative", "neutral", "positive")
MODEL_FILE = Path(__file__).parent / "model" / "sentiment.npz"


@dataclass
class SentimentModel:
    weights: np.ndarray  # (N_FEATURES, 3)
    offsets: np.ndarray  # (3,) added to logits to balance the classes for macro-F1
    # Norms that name a topic or a product ("battery", "refund", "iphone"): their own unigram and
    # character n-grams carry no sentiment (``train.neutral_norms``); a file without the list has none.
    neutral: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> SentimentModel:
        try:
            with np.load(path) as data:
                weights = data["weights"].astype(np.float32)
                offsets = data["offsets"].astype(np.float32)
                neutral = tuple(str(x) for x in data["neutral"]) if "neutral" in data.files else ()
        except (OSError, KeyError, ValueError) as exc:
            raise NlpModelError(
                f"Sentiment model {path} cannot be read ({exc}); rebuild it with `python -m engine.nlp.train`."
            ) from exc
        if weights.shape != (N_FEATURES, len(LABELS)):
            raise NlpModelError(
                f"Sentiment model {path} has shape {weights.shape}, expected {(N_FEATURES, 3)}; "
                "rebuild it with `python -m engine.nlp.train`."
            )
        return cls(weights, offsets, neutral)

    def save(self, path: Path = MODEL_FILE) -> None:
        modelfile.save(
            path,
            {
                "weights": self.weights.astype(np.float16),
                "offsets": self.offsets,
                "neutral": np.array(self.neutral, dtype=str),
            },
        )

    def neutral_hashes(self) -> frozenset[int]:
        return frozenset(hash_string(norm) for norm in self.neutral)


class NormLogits:
    """Per-norm logit contributions of one model, kept in step with a :class:`NormTable`.

    The rows of ``neutral`` norm hashes (``SentimentModel.neutral_hashes``) get
    no unigram or n-gram logits in the first ``neutral_columns`` columns (the
    sentiment classes; a complaint column after them keeps its own).
    """

    def __init__(
        self,
        weights: np.ndarray,
        table: NormTable,
        neutral: frozenset[int] = frozenset(),
        neutral_columns: int = len(LABELS),
    ) -> None:
        self.weights = weights
        self.table = table
        self.neutral = neutral
        self.neutral_columns = neutral_columns
        self._reset()

    def _reset(self) -> None:
        # one contiguous array per class: gathering from a column is several times faster than rows of three
        # (views when the weights are column-major, as SentimentScorer builds them)
        self._columns = [np.ascontiguousarray(column) for column in self.weights[:N_HASHED].T]
        self.generation = self.table.generation
        self.plain = np.zeros((0, self.weights.shape[1]), dtype=np.float32)
        self.negated = self.plain.copy()

    def _extend(self) -> None:
        """Logit rows for the table's rows added since the last call.

        A row's n-gram weights are summed in float64 in the order the table
        stored them; weights stored as float16 (``model/sentiment.npz``) are
        multiples of 2**-24 far below 2**29, so every such sum is exact and the
        order cannot change a logit.
        """
        if self.generation != self.table.generation:
            self._reset()
        start, stop = len(self.plain), len(self.table)
        if start == stop:
            return
        unigram, negated_uni, *_ = self.table.columns()
        grams, owners = self.table.grams(start, stop, in_order=False)
        owners -= start
        summed = np.stack(
            [
                np.bincount(owners, weights=np.take(column, grams), minlength=stop - start)
                for column in self._columns
            ],
            axis=1,
        )
        plain = np.take(self.weights, unigram[start:stop], axis=0) + summed
        negated = np.take(self.weights, negated_uni[start:stop], axis=0)
        mine = [
            row - start for row in (self.table.rows.get(h, -1) for h in self.neutral) if start <= row < stop
        ]
        if mine:
            plain[mine, : self.neutral_columns] = 0.0
            negated[mine, : self.neutral_columns] = 0.0
        self.plain = np.concatenate([self.plain, plain.astype(np.float32)])
        self.negated = np.concatenate([self.negated, negated])

    def logits(self, batch: FeatureBatch) -> np.ndarray:
        self._extend()
        token = np.take(self.plain, batch.rows, axis=0)
        if batch.negated.any():
            token[batch.negated] = np.take(self.negated, batch.rows[batch.negated], axis=0)
        if batch.turned.any():
            token[batch.turned] = np.take(self.weights, batch.turned_index(), axis=0)
        has_bigram = batch.bigram >= 0
        token[has_bigram] += np.take(self.weights, batch.bigram[has_bigram], axis=0)
        total = np.zeros((len(token) + 1, token.shape[1]), dtype=np.float64)
        np.cumsum(token, axis=0, out=total[1:])
        hashed = total[batch.starts[1:]] - total[batch.starts[:-1]]
        return hashed + batch.dense @ self.weights[N_HASHED:]


def coo_logits(
    weights: np.ndarray, docs: np.ndarray, idx: np.ndarray, values: np.ndarray, n: int
) -> np.ndarray:
    """Logits from (doc, index, value) triplets; the reference the fast path is tested against."""
    contrib = weights[idx] * values[:, None]
    return np.stack(
        [np.bincount(docs, weights=contrib[:, c], minlength=n) for c in range(weights.shape[1])], axis=1
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
