"""The one spaCy pipeline of the process.

``spacy.blank("en")`` unless ``SIFT_NLP_MODEL`` names an installed spaCy
package; either way the social tokenizer and the Sift components are added,
so a better model is a setting, not a code change. Nothing is downloaded.
Catalogue entities are found by ``sift_rules`` (a PhraseMatcher on LOWER).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import cast

import spacy
from spacy.language import Language

from engine.config import get_settings
from engine.nlp import components  # registers the factories
from engine.nlp.errors import NlpModelError
from engine.nlp.resources import VOCAB_FILE
from engine.nlp.tokenizer import install, lean_lexemes

_WARM_UP = ("Bonjour à tous, merci beaucoup", "@acme my order #A12345 is late, not good at all")
SIFT_COMPONENTS = ("sift_rules", "sift_language", "sift_sentiment", "sift_intent")


def _base(model: str | None) -> Language:
    if not model:
        return spacy.blank("en")
    try:
        return spacy.load(model, exclude=["parser", "lemmatizer", "textcat"])
    except OSError as exc:
        raise NlpModelError(
            f"SIFT_NLP_MODEL={model!r} is not an installed spaCy package; install it or unset the variable."
        ) from exc


def warm_vocab(nlp: Language, path: Path = VOCAB_FILE) -> None:
    """Tokenize the frequent words of the training text once, and compute their sentiment features.

    Lexemes, tokenizer cache entries and per-norm features then exist before
    the first mention instead of being built during the first few thousand.
    Two mentions are then run through, so lazily loaded parts (py3langid's
    model, the per-norm logit table) load now and not on a first request.
    Each word is tokenized alone: spaCy caches no chunk that follows a
    special case ("I'm", ":)") in the same text, so a joined list would
    leave all but its first few hundred chunks uncached. A missing file
    only costs speed.
    """
    try:
        words = path.read_text(encoding="utf-8").split()
    except OSError:
        return
    tokenize = nlp.tokenizer
    for word in words:
        tokenize(word)
    if "sift_sentiment" in nlp.pipe_names:
        # get_pipe is typed as any component; build_pipeline adds this one from the factory of its name
        scorer = cast(components.SentimentScorer, nlp.get_pipe("sift_sentiment"))
        scorer.featurizer.table.add([(lex.norm, lex.norm_) for lex in nlp.vocab])
    list(nlp.pipe(_WARM_UP))


def build_pipeline(model: str | None = None, *, upto: str | None = None) -> Language:
    """A fresh pipeline; ``upto`` stops before that Sift component.

    Training the sentiment model stops before "sift_sentiment"; training the
    complaint model stops before "sift_intent", and its sentiment scorer then
    runs without a complaint model.
    """
    nlp = _base(model)
    install(nlp)
    if not model:
        lean_lexemes(nlp)
    for name in SIFT_COMPONENTS:
        if name == upto:
            break
        if name == "sift_sentiment" and upto == "sift_intent":
            nlp.add_pipe(name, config={"complaint_file": ""})
        else:
            nlp.add_pipe(name)
    warm_vocab(nlp)
    return nlp


@lru_cache(maxsize=1)
def get_pipeline() -> Language:
    """The process-wide pipeline, built on first use."""
    return build_pipeline(get_settings().nlp_model)
