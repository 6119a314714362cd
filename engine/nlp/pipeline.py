"""The one spaCy pipeline of the process.

``spacy.blank("en")`` unless ``SIFT_NLP_MODEL`` names an installed spaCy
package; either way the social tokenizer and the Sift components are added,
so a better model is a setting, not a code change. Nothing is downloaded.
"""

from __future__ import annotations

from functools import lru_cache

import spacy
from spacy.language import Language

from engine.config import get_settings
from engine.nlp import components  # noqa: F401  (registers the factories)
from engine.nlp.errors import NlpModelError
from engine.nlp.resources import CATALOGUE_FILE, load_catalogue
from engine.nlp.tokenizer import install

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


def add_catalogue(nlp: Language, path=CATALOGUE_FILE) -> None:
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    patterns = [
        {"label": entry.label, "pattern": alias, "id": entry.name}
        for entry in load_catalogue(path)
        for alias in entry.aliases
    ]
    ruler.add_patterns(patterns)


def build_pipeline(model: str | None = None, *, upto: str | None = None) -> Language:
    """A fresh pipeline; ``upto`` stops before that Sift component (training uses "sift_sentiment")."""
    nlp = _base(model)
    install(nlp)
    add_catalogue(nlp)
    for name in SIFT_COMPONENTS:
        if name == upto:
            break
        nlp.add_pipe(name)
    return nlp


@lru_cache(maxsize=1)
def get_pipeline() -> Language:
    """The process-wide pipeline, built on first use."""
    return build_pipeline(get_settings().nlp_model)
