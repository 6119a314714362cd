"""Intent of a mention, by rules over cues, topics, entities and sentiment.

Order matters (first rule that fires wins): spam, cancellation, complaint,
question, purchase intent, praise, other. The guideline the rules follow is
``docs/nlp/intent-guideline.md``.
"""

from __future__ import annotations

import re

from spacy.tokens import Doc

from engine.nlp.analysis import Analysis

_SPAM = re.compile(
    r"\b(?:giveaway|give away|win a|chance to win|enter to win|follow (?:and|&|\+) (?:rt|retweet)|"
    r"follow back|followback|free followers|click here|check out my|promo code|use code|"
    r"% off|discount code|dm for|earn \$|make money|work from home|limited offer)\b",
    re.IGNORECASE,
)
_CANCEL = re.compile(
    r"\b(?:cancel(?:l?ing|l?ed)? my|close my account|closing my account|switch(?:ing|ed)? to|"
    r"unsubscrib\w*|never (?:again|buy\w*|using|ordering|flying|shopping)|done with (?:you|@)|"
    r"take my business|lost a (?:loyal )?customer|goodbye @|leaving @|#boycott)",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"(?:^|[.!?]\s+|^(?:@\w+\s+)+)(?:how|what|when|where|why|who|which|can|could|does|do|is|are|will|"
    r"would|should|did|has|have|anyone|any idea)\b[^.!]*\?",
    re.IGNORECASE,
)
_PURCHASE = re.compile(
    r"\b(?:want(?:s|ed)? (?:to buy|to get|a new|one)|wanna (?:buy|get)|gonna (?:buy|get)|going to buy|"
    r"thinking (?:of|about) (?:buying|getting)|planning to (?:buy|get)|pre-?order\w*|"
    r"where (?:can|do) i (?:buy|get)|need (?:a new|to buy)|can'?t wait to (?:get|buy)|"
    r"saving up for|in the market for|should i (?:buy|get)|how much (?:is|does|are)|buying (?:a|the|my) new)\b",
    re.IGNORECASE,
)
_PRAISE = re.compile(
    r"\b(?:thank(?:s| you)|love (?:my|the|this|it|you|@)|loving (?:my|the|this)|great (?:service|job|app|product)|"
    r"awesome|amazing (?:service|product|app)|best (?:service|customer|app|phone)|kudos|shout ?out|"
    r"well done|impressed|highly recommend)\b",
    re.IGNORECASE,
)
_COMMERCIAL_TOPICS = frozenset(
    {
        "delivery",
        "billing",
        "refund",
        "account",
        "product_quality",
        "customer_service",
        "app_website",
        "pricing",
        "safety",
        "outage",
        "travel_disruption",
    }
)
_SERVICE_CUES = frozenset({"unresolved", "legal_threat", "safety", "churn"})


def commercial_context(found: Analysis) -> bool:
    """The mention is about a brand, product or service (catalogue entity, taxonomy topic, handle)."""
    if any(
        e["label"] in ("BRAND", "PRODUCT", "COMPETITOR", "ORDER_ID", "TRACKING_NUMBER")
        for e in found.entities
    ):
        return True
    return any(t in _COMMERCIAL_TOPICS for t in found.topics)


def classify(doc: Doc, found: Analysis) -> str:
    text = doc.text
    commercial = commercial_context(found)
    negative = found.sentiment_label == "negative"
    if _SPAM.search(text):
        return "spam"
    if _CANCEL.search(text) or ("churn" in found.cues and negative and commercial):
        return "cancellation"
    if negative and (commercial or _SERVICE_CUES.intersection(found.cues)):
        return "complaint"
    if "?" in text and _QUESTION_START.search(text):
        return "question"
    if _PURCHASE.search(text):
        return "purchase_intent"
    if found.sentiment_label == "positive" and (commercial or _PRAISE.search(text)):
        return "praise"
    return "other"
