"""What the pipeline components find in one doc (``doc._.sift``).

``text`` and ``lower`` are the doc's text, read once: ``Doc.text`` joins the
tokens again on every access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Analysis:
    text: str = ""
    lower: str = ""
    topics: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    entities: list[dict[str, object]] = field(default_factory=list)
    language: str = "en"
    sentiment_label: str = "neutral"
    sentiment_score: float = 0.0
    probabilities: tuple[float, float, float] = (0.0, 1.0, 0.0)
    intent: str = "other"
    # The doc's token attribute rows (components.TOKEN_ROWS), read once by the
    # language detector for the sentiment scorer too, which drops them.
    token_rows: Any = None
