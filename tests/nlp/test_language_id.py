"""The compact language identifier gives py3langid's labels from a fraction of its memory."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import py3langid
import pytest
import spacy.lang

from engine.nlp import enrich
from engine.nlp.language_id import LanguageIdentifier

# the openings bench/day.py posts in other languages, which routing sends to the multilingual queue
OPENINGS = {
    "es": "@acme mi pedido A10234 nunca llegó y nadie contesta, 5 días esperando",
    "fr": "@acme mon colis A10234 n'est jamais arrivé et personne ne répond depuis 5 jours",
    "de": "@acme meine Bestellung A10234 ist nie angekommen, seit 5 Tagen keine Antwort",
    "pt": "@acme o meu pedido A10234 nunca chegou e ninguém responde há 5 dias",
}
ODD = ["", " ", "a", "!!!", "ÉTÉ CHAUD", "ЗДРАВСТВУЙТЕ", "😀😀", "\ud800 lone", "#A12345 @acme", "x" * 3000]


def example_sentences() -> list[str]:
    """spaCy's example sentences, in every language it ships them for."""
    texts = []
    for module in pkgutil.iter_modules(spacy.lang.__path__):
        try:
            examples = importlib.import_module(f"spacy.lang.{module.name}.examples")
        except ImportError:
            continue
        texts += getattr(examples, "sentences", [])
    return texts


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return LanguageIdentifier()


def test_labels_are_py3langids(identifier: LanguageIdentifier) -> None:
    texts = [*example_sentences(), *OPENINGS.values(), *ODD]
    assert len(texts) > 500
    differ = [(t[:40], py3langid.classify(t)[0], identifier.classify(t)) for t in texts]
    assert [d for d in differ if d[1] != d[2]] == []


def test_openings_in_other_languages(identifier: LanguageIdentifier) -> None:
    assert {identifier.classify(text) for text in OPENINGS.values()} == set(OPENINGS)
    assert {enrich(text)["language"] for text in OPENINGS.values()} == set(OPENINGS)


def test_model_is_a_tenth_of_py3langids(identifier: LanguageIdentifier) -> None:
    held = sum(v.nbytes for v in vars(identifier).values() if isinstance(v, np.ndarray))
    assert held < 12_000_000  # py3langid holds 67.7 MB of arrays for the same model
