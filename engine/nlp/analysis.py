"""What the pipeline components find in one doc (``doc._.sift``).

``text`` and ``lower`` are the doc's text, read once: ``Doc.text`` joins the
tokens again on every access. The lists are empty tuples until a component
finds something: most tweets have no topic, cue or entity, and a doc that
allocates no empty lists gives the cyclic garbage collector fewer objects
to track while it waits in a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Analysis:
    text: str = ""
    lower: str = ""
    topics: Sequence[str] = ()
    keywords: Sequence[str] = ()
    cues: Sequence[str] = ()
    hashtags: Sequence[str] = ()
    entities: Sequence[dict[str, object]] = ()
    language: str = "en"
    sentiment_label: str = "neutral"
    sentiment_score: float = 0.0
    probabilities: tuple[float, float, float] = (0.0, 1.0, 0.0)
    intent: str = "other"
    # The complaint model's calibrated probability, and the part of its raw score the
    # sentiment scorer sums with the sentiment logits (the intent component adds the rest).
    complaint_score: float = 0.0
    complaint_features: float = 0.0
    # The doc's token attribute rows (components.TOKEN_ROWS), read once by the
    # language detector for the sentiment scorer too, which drops them.
    token_rows: Any = None
