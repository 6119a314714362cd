"""Sentiment labels that change what a care team sees, negation above all."""

from __future__ import annotations

import numpy as np
import pytest

from engine.nlp import enrich, get_pipeline
from engine.nlp.components import analysis
from engine.nlp.features import N_DENSE, Featurizer
from engine.nlp.sentiment import NormLogits, coo_logits
from engine.nlp.train import featurize


@pytest.mark.parametrize(
    "text",
    [
        "not good at all",
        "The new update is not good",
        "not happy at all with @AcmeCare",
        "Never again, Acme.",
        "No help from support whatsoever",
        "I am not impressed with this phone",
    ],
)
def test_negated_praise_reads_negative(text: str) -> None:
    assert enrich(text)["sentiment"]["label"] == "negative"


@pytest.mark.parametrize("text", ["not bad", "The battery is not bad at all", "Honestly not a bad phone"])
def test_negated_criticism_is_not_negative(text: str) -> None:
    sentiment = enrich(text)["sentiment"]
    assert sentiment["label"] != "negative"
    assert sentiment["score"] > -0.2


def test_negation_flips_the_score() -> None:
    assert enrich("good phone")["sentiment"]["score"] > enrich("not a good phone")["sentiment"]["score"] + 0.5


def test_plain_praise_and_anger() -> None:
    assert enrich("I love my new Acme phone, best purchase this year!")["sentiment"]["label"] == "positive"
    assert enrich("worst airline ever, they lost my bag")["sentiment"]["label"] == "negative"


TEXTS = [
    "not good at all",
    "Loving the new @Acme app!!! 😍 #win",
    "my order #A12345 never arrived, still waiting",
    "",
    "but however though, it's fine but awful",
    "Sooooo slow... can't believe it",
]


def test_fast_scoring_equals_the_training_matrix() -> None:
    """The per-norm logit tables give the same logits as the sparse matrix the model was trained on."""
    scorer = get_pipeline().get_pipe("sift_sentiment")
    docs = list(get_pipeline().pipe(TEXTS))
    features = Featurizer().batch(docs, [analysis(d).cues.count("unresolved") for d in docs])
    fast = NormLogits(scorer.model.weights, features.table).logits(features)
    reference = coo_logits(scorer.model.weights, *featurize(TEXTS))
    np.testing.assert_allclose(fast, reference, rtol=1e-4, atol=1e-4)


def test_weights_are_held_once() -> None:
    """The model's weights, the logit pass's and its per-class columns are one array in memory."""
    scorer = get_pipeline().get_pipe("sift_sentiment")
    held = scorer.norm_logits.weights
    assert np.shares_memory(scorer.model.weights, held)
    assert all(np.shares_memory(column, held) for column in scorer.norm_logits._columns)


def test_negation_scope_stops_at_punctuation() -> None:
    docs = list(get_pipeline().pipe(["not good. great day"]))
    features = Featurizer().batch(docs, [0])
    assert features.negated.tolist() == [False, True, False, False, False]


def test_a_fresh_featurizer_takes_docs_without_tokens() -> None:
    """A new table met no norm yet: its columns are empty, not missing (this raised AttributeError)."""
    docs = [get_pipeline().make_doc(""), get_pipeline().make_doc("")]
    features = Featurizer().batch(docs, [0, 1])
    assert len(features.rows) == 0
    doc_of, _, values = features.coo()
    assert doc_of.tolist() == [0] * N_DENSE + [1] * N_DENSE  # the dense cues alone
    assert values[doc_of == 0].tolist() != values[doc_of == 1].tolist()  # the second has an unresolved cue


def test_ascii_norms_get_the_grams_the_string_by_string_path_gives() -> None:
    """The numpy n-gram path (ASCII norms) against the one that hashes each gram string with hash_string."""
    import random

    from engine.nlp.features import _ascii_grams, _unicode_grams, split_rows

    rng = random.Random(11)
    for _ in range(200):
        bares = [
            "".join(rng.choice("aab<>#x1.\x00\x7f~") for _ in range(rng.randint(0, 14)))
            for _ in range(rng.randint(1, 200))
        ]
        fast, slow = (
            split_rows(*_ascii_grams(bares), len(bares)),
            split_rows(*_unicode_grams(bares), len(bares)),
        )
        assert [g.tolist() for g in fast] == [g.tolist() for g in slow]
        assert all(g.dtype == np.int64 for g in fast)
