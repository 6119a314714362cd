"""The brand-sentiment sets and their fixed split, shared by training and ``bench/nlp.py``.

Data: ``/work/shared/data/brand-sentiment`` (read from there, never
copied): the Sanders Analytics Twitter corpus (2011, tweets about Apple,
Google, Microsoft and Twitter; public repository zfz/twitter_corpus) and
CrowdFlower's "Brands and Product Emotions" (SXSW 2013 tweets about Apple
and Google products), each labelled negative / neutral / positive by people.

Each tweet goes to one part by the CRC-32 of its normalised text (lower
case, URLs and a leading "rt" dropped, whitespace collapsed), so the split
is the same on every machine and a tweet posted twice, or again with
another short link, stays on one side:

- ``HELD_OUT`` (CRC-32 mod 5 = 0, about a fifth): never trained on, only
  scored by ``bench/nlp.py``;
- ``INNER`` (a tenth of the rest): the inner validation part on which
  ``python -m engine.nlp.train`` chooses its hyper-parameters;
- ``TRAIN``: the rest.

The final model is fitted on ``INNER`` and ``TRAIN`` together.
"""

from __future__ import annotations

import csv
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "brand-sentiment"
SETS = {"sanders": ("sanders.csv", "brand"), "sxsw": ("sxsw-brands.csv", "target")}
LABEL_INDEX = {"negative": 0, "neutral": 1, "positive": 2}
HELD_OUT, INNER, TRAIN = "held_out", "inner", "train"
_URL = re.compile(r"https?://\S*|www\.\S+")
_SPACE = re.compile(r"\s+")


def normalised(text: str) -> str:
    """The text that decides a tweet's part: lower case, without URLs or a leading "rt", spaces collapsed."""
    flat = _SPACE.sub(" ", _URL.sub(" ", text.lower())).strip()
    return flat[3:] if flat.startswith("rt ") else flat


def _crc(text: str) -> int:
    return zlib.crc32(normalised(text).encode("utf-8"))


def part_of(text: str) -> str:
    """``HELD_OUT``, ``INNER`` or ``TRAIN``, by the CRC-32 of ``normalised(text)``."""
    crc = _crc(text)
    if crc % 5 == 0:
        return HELD_OUT
    return INNER if is_inner(text, crc) else TRAIN


def is_inner(text: str, crc: int | None = None) -> bool:
    """Whether a training tweet is in the inner validation tenth (the rule ``part_of`` applies past the fifth).

    Training applies it to TweetEval's training split too, which has no held-out part here.
    """
    return ((_crc(text) if crc is None else crc) // 5) % 10 == 0


@dataclass
class BrandSet:
    name: str
    texts: list[str]
    labels: np.ndarray  # 0 negative, 1 neutral, 2 positive
    parts: np.ndarray  # HELD_OUT, INNER or TRAIN of each tweet

    def part(self, *names: str) -> tuple[list[str], np.ndarray]:
        keep = np.flatnonzero(np.isin(self.parts, names))
        return [self.texts[i] for i in keep.tolist()], self.labels[keep]


def read_sets(directory: Path = DEFAULT_DIR) -> list[BrandSet]:
    """Both sets, in the order of ``SETS``; a missing file or an unknown label stops with what to pass."""
    found = []
    for name, (filename, _) in SETS.items():
        path = directory / filename
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise SystemExit(f"{path} cannot be read ({exc.strerror}); pass --brands DIR") from exc
        unknown = sorted({r["sentiment"] for r in rows} - set(LABEL_INDEX))
        if unknown:
            raise SystemExit(f"{path}: unknown sentiment labels {unknown}; expected {sorted(LABEL_INDEX)}")
        texts = [r["text"] for r in rows]
        labels = np.array([LABEL_INDEX[r["sentiment"]] for r in rows], dtype=np.int64)
        found.append(BrandSet(name, texts, labels, np.array([part_of(t) for t in texts])))
    return found
