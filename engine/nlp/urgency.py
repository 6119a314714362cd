"""Author reach and urgency.

Influence is ``log10(followers + 1) / 7`` (10M followers -> 1.0) plus 0.2
for a verified account, capped at 1. Urgency combines risk cues, intent,
sentiment and influence:

- critical: a safety or legal cue on a negative mention that is public
  (escalation cue) or from a high-reach author (influence >= 0.7), or safety
  together with a legal threat;
- high: any safety, legal or public-escalation cue; a complaint or
  cancellation from a high-reach author; a strongly negative churn mention;
- normal: complaints, cancellations, questions, other negative mentions;
- low: everything else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

HIGH_REACH = 0.7
_RISK = frozenset({"safety", "legal_threat", "public_escalation"})


def influence(author: dict[str, Any] | None) -> float:
    if not author:
        return 0.0
    try:
        followers = max(0, int(author.get("followers") or author.get("followers_count") or 0))
    except (TypeError, ValueError):
        followers = 0
    score = math.log10(followers + 1) / 7.0 + (0.2 if author.get("verified") else 0.0)
    return round(min(1.0, score), 3)


def urgency(cues: Sequence[str], intent: str, sentiment: str, score: float, reach: float) -> str:
    negative = sentiment == "negative"
    risky = {"safety", "legal_threat"}.intersection(cues)
    public = "public_escalation" in cues or reach >= HIGH_REACH
    if (risky and negative and public) or {"safety", "legal_threat"} <= set(cues):
        return "critical"
    if _RISK.intersection(cues):
        return "high"
    if intent in ("complaint", "cancellation") and reach >= HIGH_REACH:
        return "high"
    if "churn" in cues and score <= -0.6:
        return "high"
    if intent in ("complaint", "cancellation", "question") or negative:
        return "normal"
    return "low"
