"""NLP enrichment of social mentions: one spaCy pipeline per process.

``enrich(text, author)`` returns the ``enrichment`` object of the API
(see api.md): sentiment, intent, the complaint probability, topics, entities, urgency, language,
keywords, cues and influence. ``enrich_many`` does the same for a stream
through ``nlp.pipe``. PII entities (phone, e-mail) carry ``"pii": true``;
use ``redact`` before text goes anywhere near a log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

# first, so that spaCy is imported without its command line (engine/nlp/lean_import.py)
from engine.nlp import lean_import  # noqa: F401

# isort: split
from spacy.language import Language
from spacy.tokens import Doc

from engine.config import get_settings
from engine.nlp.components import analysis
from engine.nlp.entities import redact
from engine.nlp.pipeline import build_pipeline, get_pipeline
from engine.nlp.urgency import influence, urgency

__all__ = ["analysed_part", "build_pipeline", "enrich", "enrich_many", "get_pipeline", "redact"]

_CHUNK_DOCS = 5_000
MAX_STRINGS = 500_000
MAX_LONG_TOKEN_CHARS = 50_000_000  # characters of tokens over MAX_CHUNK in the string store
# The pipeline is not safe to share between threads: its string store and the sentiment scorer's
# per-norm table grow as new words arrive, and two threads adding rows at once leave the table
# pointing words at other words' features, for every later text. One thread at a time runs it.
_LOCK = threading.RLock()


def analysed_part(text: str, limit: int | None = None) -> str:
    """The part of ``text`` enrichment reads: all of it up to ``limit`` characters (``nlp_max_chars``).

    A longer text is cut at its last whitespace in the final fifth before
    the limit, so no word is read half; a text with no whitespace there is
    cut at the limit. It is a prefix, so entity offsets stay offsets into
    the signal's text. The bound keeps one signal's enrichment CPU under a
    fixed budget (a 20,000-character text costs what a 5,000-character one
    does), as hosted text-analysis services bound a document (Azure AI
    Language reads 5,120 characters); mentions are far shorter than it.
    """
    limit = get_settings().nlp_max_chars if limit is None else limit
    if len(text) <= limit:
        return text
    floor = limit - limit // 5
    for cut in range(limit, floor, -1):
        if text[cut].isspace():
            return text[:cut]
    return text[:limit]


def _result(doc: Doc, author: dict[str, Any] | None) -> dict[str, Any]:
    found = analysis(doc)
    reach = influence(author)
    return {
        "analysed_chars": len(doc.text),
        "sentiment": {"label": found.sentiment_label, "score": found.sentiment_score},
        "intent": found.intent,
        "complaint_score": found.complaint_score,
        "topics": list(found.topics),
        "entities": [dict(e) for e in found.entities],
        "urgency": urgency(found.cues, found.intent, found.sentiment_label, found.sentiment_score, reach),
        "language": found.language,
        "keywords": list(found.keywords),
        "cues": list(found.cues),
        "influence": reach,
    }


def current_pipeline() -> Language:
    """``get_pipeline()``, built again once its string store passes ``MAX_STRINGS``.

    Sift does not use spaCy memory zones: inside a zone the tokenizer caches
    nothing, which made tokenizing three times slower than the rest of the
    pipeline together. Instead every string stays interned (frequent words
    repeat, so the tokenizer cache and lexemes pay off) until the store
    holds ``MAX_STRINGS`` strings (about 60 MB, some 150,000 tweets); then
    the next call builds a fresh pipeline (about a second) and the old one
    is freed once nothing uses it. Tokens over ``MAX_CHUNK`` characters (only
    split long chunks make them; tweets have none) count by their length too:
    the pipeline is also rebuilt once they hold ``MAX_LONG_TOKEN_CHARS``
    characters, so a stream of distinct 20,000-character words holds some
    200 MB of them at most, not 500,000 of them.
    """
    nlp = get_pipeline()
    if len(nlp.vocab.strings) > MAX_STRINGS or getattr(nlp.tokenizer, "long_chars", 0) > MAX_LONG_TOKEN_CHARS:
        get_pipeline.cache_clear()
        nlp = get_pipeline()
    return nlp


def enrich(text: str, author: dict[str, Any] | None = None) -> dict[str, Any]:
    """The enrichment of one mention."""
    part = analysed_part(text)
    with _LOCK:
        return _result(current_pipeline()(part), author)


def enrich_many(
    items: Iterable[tuple[str, dict[str, Any] | None]], batch_size: int = 256
) -> Iterator[dict[str, Any]]:
    """Enrichments in input order; memory stays bounded however long the stream.

    The stream is taken in chunks of a few thousand; before each, the
    pipeline is renewed if its strings passed ``MAX_STRINGS``
    (``current_pipeline``). A chunk is enriched whole under the pipeline's
    lock, so the lock is never held while the caller works between items.
    """
    stream = iter(items)
    while chunk := list(islice(stream, _CHUNK_DOCS)):
        window = [(analysed_part(text), author) for text, author in chunk]
        with _LOCK:
            nlp = current_pipeline()
            done = [
                _result(doc, author)
                for doc, author in nlp.pipe(window, as_tuples=True, batch_size=batch_size)
            ]
        yield from done
