"""Linear sentiment model over hashed features (see ``features``).

A multinomial logistic regression stored as one weight matrix (float16 in
``model/sentiment.npz``, rebuilt by ``python -m engine.nlp.train``). Scoring
a batch is one gather and one ``reduceat``; the score is
``p(positive) - p(negative)``, in -1..1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.nlp.errors import NlpModelError
from engine.nlp.features import N_FEATURES

LABELS = ("negative", "neutral", "positive")
MODEL_FILE = Path(__file__).parent / "model" / "sentiment.npz"


@dataclass
class SentimentModel:
    weights: np.ndarray  # (N_FEATURES, 3)
    offsets: np.ndarray  # (3,) added to logits to balance the classes for macro-F1

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> SentimentModel:
        try:
            with np.load(path) as data:
                weights = data["weights"].astype(np.float32)
                offsets = data["offsets"].astype(np.float32)
        except (OSError, KeyError, ValueError) as exc:
            raise NlpModelError(
                f"Sentiment model {path} cannot be read ({exc}); rebuild it with `python -m engine.nlp.train`."
            ) from exc
        if weights.shape != (N_FEATURES, len(LABELS)):
            raise NlpModelError(
                f"Sentiment model {path} has shape {weights.shape}, expected {(N_FEATURES, 3)}; "
                "rebuild it with `python -m engine.nlp.train`."
            )
        return cls(weights, offsets)

    def save(self, path: Path = MODEL_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, weights=self.weights.astype(np.float16), offsets=self.offsets)

    def logits(self, batch: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        return batch_logits(self.weights, batch) + self.offsets

    def probabilities(self, batch: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        return softmax(self.logits(batch))


def batch_logits(weights: np.ndarray, batch: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    if not batch:
        return np.zeros((0, weights.shape[1]), dtype=np.float32)
    indices = np.concatenate([b[0] for b in batch])
    values = np.concatenate([b[1] for b in batch])
    starts = np.cumsum([0] + [len(b[0]) for b in batch[:-1]])
    return np.add.reduceat(weights[indices] * values[:, None], starts, axis=0)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
