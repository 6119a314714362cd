"""Hashed sparse features for the sentiment model, shared by training and runtime.

Per token the expensive work (character n-grams, lexicon valence) is done
once per distinct norm and cached; per document only numpy gathers and a
short loop over cached entries remain. Features:

- unigram of the token norm (a separate feature when inside a negation scope),
- bigram of adjacent norms,
- character 3..5-grams of the norm,
- dense cues: VADER lexicon positive/negative mass (negation flips it),
  emoji valence, "!"/"?" counts, elongations, all-caps words and the
  brand-care "unresolved" cue count set by the cue matcher.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import vaderSentiment
from spacy.attrs import IS_PUNCT, IS_UPPER, NORM
from spacy.strings import hash_string
from spacy.tokens import Doc

N_HASHED = 1 << 18
DENSE_NAMES = (
    "bias",
    "lex_pos",
    "lex_neg",
    "lex_compound",
    "n_pos",
    "n_neg",
    "exclaim",
    "question",
    "elongated",
    "all_caps",
    "unresolved",
    "negations",
)
N_FEATURES = N_HASHED + len(DENSE_NAMES)
_MASK = np.uint64(N_HASHED - 1)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM_SALT = np.uint64(0x632BE59BD9B4E019)
NEGATORS = frozenset(
    [
        "not",
        "no",
        "never",
        "nothing",
        "nobody",
        "none",
        "neither",
        "nor",
        "cannot",
        "without",
        "hardly",
        "barely",
        "isnt",
        "wasnt",
        "dont",
        "didnt",
        "doesnt",
        "cant",
        "couldnt",
        "wont",
        "wouldnt",
        "shouldnt",
        "aint",
        "havent",
        "hasnt",
        "arent",
    ]
)
_SCOPE = 3
_ELONGATED = re.compile(r"([^\W\d_])\1{2,}")
_VADER_DIR = Path(vaderSentiment.__file__).parent


def _index(value: int, salt: int) -> int:
    return ((value * 0x9E3779B97F4A7C15 + salt) & 0xFFFFFFFFFFFFFFFF) >> 20 & (N_HASHED - 1)


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """VADER's word valences, plus emoji scored by the words of their description."""
    lexicon: dict[str, float] = {}
    for line in (_VADER_DIR / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lexicon[parts[0]] = float(parts[1])
    emoji: dict[str, float] = {}
    for line in (_VADER_DIR / "emoji_utf8_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2:
            score = sum(lexicon.get(w, 0.0) for w in parts[1].split())
            if score:
                emoji[parts[0]] = score
    lexicon.update(emoji)
    return lexicon


@dataclass(frozen=True, slots=True)
class LexInfo:
    unigram: int
    negated: int
    grams: np.ndarray
    valence: float
    negator: bool


class Featurizer:
    """Turns docs into (feature indices, values) pairs; caches per-norm work."""

    def __init__(self, max_cache: int = 200_000) -> None:
        self._lexicon = vader_lexicon()
        self._cache: dict[int, LexInfo] = {}
        self._max_cache = max_cache

    def _info(self, doc: Doc, norm: int) -> LexInfo:
        info = self._cache.get(norm)
        if info is None:
            if len(self._cache) >= self._max_cache:
                self._cache.clear()
            info = self._cache[norm] = self._compute(doc.vocab.strings[norm], norm)
        return info

    def _compute(self, text: str, norm: int) -> LexInfo:
        bare = text.lstrip("#")
        valence = self._lexicon.get(text, self._lexicon.get(bare, 0.0))
        if not valence and _ELONGATED.search(bare):
            valence = self._lexicon.get(_ELONGATED.sub(r"\1", bare), 0.0)
        padded = f"<{bare}>"
        grams = {padded[i : i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)}
        if len(padded) <= 4:
            grams = set()
        indices = np.fromiter((_index(hash_string(g), 7) for g in grams), dtype=np.int64, count=len(grams))
        plain = text.replace("'", "").replace("\u2019", "")
        return LexInfo(
            unigram=_index(norm, 1),
            negated=_index(norm, 2),
            grams=indices,
            valence=valence,
            negator=plain in NEGATORS or text == "not",
        )

    def features(self, doc: Doc, unresolved: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Indices into a weight matrix of ``N_FEATURES`` rows and their values."""
        arr = doc.to_array([NORM, IS_PUNCT, IS_UPPER])
        n = len(arr)
        infos = [self._info(doc, int(h)) for h in arr[:, 0]] if n else []
        punct = arr[:, 1] if n else np.zeros(0, dtype=np.uint64)
        negated = self._negation_scope(infos, punct)
        unigrams = [info.negated if neg else info.unigram for info, neg in zip(infos, negated, strict=True)]
        parts = [np.asarray(unigrams, dtype=np.int64)]
        if n > 1:
            norms = arr[:, 0]
            mixed = (norms[:-1] * _MIX) ^ (norms[1:] + _BIGRAM_SALT)
            parts.append(((mixed * _MIX) >> np.uint64(20) & _MASK).astype(np.int64))
        parts.extend(info.grams for info in infos)
        hashed = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        dense = self._dense(doc, infos, negated, arr, unresolved)
        indices = np.concatenate([hashed, np.arange(N_HASHED, N_FEATURES, dtype=np.int64)])
        values = np.concatenate([np.ones(len(hashed), dtype=np.float32), dense])
        return indices, values

    @staticmethod
    def _negation_scope(infos: list[LexInfo], punct: np.ndarray) -> list[bool]:
        scope = [False] * len(infos)
        for i, info in enumerate(infos):
            if not info.negator:
                continue
            for j in range(i + 1, min(i + 1 + _SCOPE, len(infos))):
                if punct[j]:
                    break
                scope[j] = True
        return scope

    @staticmethod
    def _dense(
        doc: Doc, infos: list[LexInfo], negated: list[bool], arr: np.ndarray, unresolved: int
    ) -> np.ndarray:
        pos = neg = 0.0
        n_pos = n_neg = n_negators = 0
        for info, in_scope in zip(infos, negated, strict=True):
            v = info.valence * (-0.74 if in_scope else 1.0)
            if v > 0:
                pos += v
                n_pos += 1
            elif v < 0:
                neg -= v
                n_neg += 1
            n_negators += info.negator
        total = pos - neg
        text = doc.text
        caps = int(arr[:, 2].sum()) if len(arr) else 0
        return np.array(
            [
                1.0,
                math.log1p(pos),
                math.log1p(neg),
                total / math.sqrt(total * total + 15.0),
                min(n_pos, 5) / 5.0,
                min(n_neg, 5) / 5.0,
                min(text.count("!"), 5) / 5.0,
                min(text.count("?"), 3) / 3.0,
                float(bool(_ELONGATED.search(text))),
                min(caps, 5) / 5.0,
                min(unresolved, 3) / 3.0,
                min(n_negators, 3) / 3.0,
            ],
            dtype=np.float32,
        )
