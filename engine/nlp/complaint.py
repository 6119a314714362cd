"""The complaint model: a calibrated probability that a mention is a complaint.

A logistic regression over the sentiment model's features (hashed word,
bigram and character n-grams, and its dense lexicon cues) plus the intent
rules' verdicts (``intent.RULE_FEATURES``, among them the sentiment
probabilities). Trained by ``python -m engine.nlp.train`` on brand-care
tweets judged by annotators (see ``complaint_train``), stored in
``model/complaint.npz``.

At runtime the hashed and dense part is summed with the sentiment logits
in one pass (``SentimentScorer`` scores a fourth column), and the rule part
is added once the intent rules have run. The raw score ``z`` is mapped to
a probability by Platt scaling, ``1 / (1 + exp(-(a * z + b)))``, fitted on
out-of-fold scores of the training data, so ``complaint_score`` reads as a
probability under the training data's mix (about two complaints in five).
``threshold`` is the probability at which the intent becomes "complaint",
chosen on the training folds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.nlp import modelfile
from engine.nlp.errors import NlpModelError
from engine.nlp.features import N_FEATURES
from engine.nlp.intent import RULE_FEATURES

MODEL_FILE = Path(__file__).parent / "model" / "complaint.npz"
N_WEIGHTS = N_FEATURES + len(RULE_FEATURES)


@dataclass
class ComplaintModel:
    weights: np.ndarray  # (N_WEIGHTS,): hashed and dense features, then the rules' verdicts
    bias: float
    scale: float  # Platt scaling of the raw score
    shift: float
    threshold: float  # probability at which the intent is "complaint"

    @property
    def feature_weights(self) -> np.ndarray:
        return self.weights[:N_FEATURES]

    @property
    def rule_weights(self) -> np.ndarray:
        return self.weights[N_FEATURES:]

    def probability(self, raw: float) -> float:
        """The calibrated probability of a raw score (the bias included)."""
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, self.scale * raw + self.shift))))

    def raw(self, feature_logit: float, rules: list[float]) -> float:
        """The raw score: the features' part (from the scorer), the rules' part and the bias."""
        return feature_logit + float(np.dot(self.rule_weights, rules)) + self.bias

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> ComplaintModel:
        try:
            with np.load(path) as data:
                weights = data["weights"].astype(np.float32)
                bias, scale, shift, threshold = (float(x) for x in data["calibration"])
                rules = tuple(str(x) for x in data["rules"])
        except (OSError, KeyError, ValueError) as exc:
            raise NlpModelError(
                f"Complaint model {path} cannot be read ({exc}); rebuild it with `python -m engine.nlp.train`."
            ) from exc
        if weights.shape != (N_WEIGHTS,) or rules != RULE_FEATURES:
            raise NlpModelError(
                f"Complaint model {path} was trained for other features (shape {weights.shape}, "
                f"{len(rules)} rule features; expected {(N_WEIGHTS,)} and {len(RULE_FEATURES)}); "
                "rebuild it with `python -m engine.nlp.train`."
            )
        return cls(weights, bias, scale, shift, threshold)

    def save(self, path: Path = MODEL_FILE) -> None:
        modelfile.save(
            path,
            {
                "weights": self.weights.astype(np.float32),
                "calibration": np.array(
                    [self.bias, self.scale, self.shift, self.threshold], dtype=np.float64
                ),
                "rules": np.array(RULE_FEATURES),
            },
        )
