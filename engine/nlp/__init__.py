"""NLP enrichment of social mentions: one spaCy pipeline per process.

``enrich(text, author)`` returns the ``enrichment`` object of the API
(see api.md): sentiment, intent, topics, entities, urgency, language,
keywords, cues and influence. ``enrich_many`` does the same for a stream
through ``nlp.pipe``. PII entities (phone, e-mail) carry ``"pii": true``;
use ``redact`` before text goes anywhere near a log.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from spacy.tokens import Doc

from engine.nlp.components import analysis
from engine.nlp.entities import redact
from engine.nlp.pipeline import build_pipeline, get_pipeline
from engine.nlp.urgency import influence, urgency

__all__ = ["build_pipeline", "enrich", "enrich_many", "get_pipeline", "redact"]

_ZONE_DOCS = 10_000


def _result(doc: Doc, author: dict[str, Any] | None) -> dict[str, Any]:
    found = analysis(doc)
    reach = influence(author)
    return {
        "sentiment": {"label": found.sentiment_label, "score": found.sentiment_score},
        "intent": found.intent,
        "topics": list(found.topics),
        "entities": [dict(e) for e in found.entities],
        "urgency": urgency(found.cues, found.intent, found.sentiment_label, found.sentiment_score, reach),
        "language": found.language,
        "keywords": list(found.keywords),
        "cues": list(found.cues),
        "influence": reach,
    }


def enrich(text: str, author: dict[str, Any] | None = None) -> dict[str, Any]:
    """The enrichment of one mention."""
    return _result(get_pipeline()(text), author)


def enrich_many(
    items: Iterable[tuple[str, dict[str, Any] | None]], batch_size: int = 256
) -> Iterator[dict[str, Any]]:
    """Enrichments in input order; memory stays flat however long the stream.

    Work is done in zones of ten thousand docs: strings spaCy interns for a
    zone (handles, URLs, rare words) are freed when it ends; frequent words
    were interned for good when the pipeline was built (``warm_vocab``).
    """
    nlp = get_pipeline()
    stream = iter(items)
    while chunk := list(islice(stream, _ZONE_DOCS)):
        with nlp.memory_zone():
            for doc, author in nlp.pipe(chunk, as_tuples=True, batch_size=batch_size):
                yield _result(doc, author)
