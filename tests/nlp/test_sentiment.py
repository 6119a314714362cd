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
    "The battery is not bad at all",
    "never disappoints, no problems whatsoever",
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


def test_fast_scoring_leaves_out_topic_words_as_the_training_matrix_does() -> None:
    """With the shipped model's topic and product words, fast logits equal the matrix training built for them."""
    scorer = get_pipeline().get_pipe("sift_sentiment")
    neutral = scorer.model.neutral
    assert {"battery", "refund", "iphone"} <= set(neutral)
    docs = list(get_pipeline().pipe(TEXTS))
    features = Featurizer().batch(docs, [analysis(d).cues.count("unresolved") for d in docs])
    fast = NormLogits(scorer.model.weights, features.table, scorer.model.neutral_hashes()).logits(features)
    reference = coo_logits(scorer.model.weights, *featurize(TEXTS, neutral))
    np.testing.assert_allclose(fast, reference, rtol=1e-4, atol=1e-4)


def test_a_topic_word_alone_carries_no_sentiment() -> None:
    """A topic or product word names what a mention is about; what is said of it decides the sentiment.

    ("refund" is also a brand-care cue, which moves the score: not compared here.)
    """
    assert enrich("battery")["sentiment"] == enrich("screen")["sentiment"] == enrich("iphone")["sentiment"]
    assert enrich("battery")["sentiment"]["label"] == "neutral"


def test_the_topic_words_are_saved_with_the_model(tmp_path) -> None:
    from engine.nlp.features import N_FEATURES
    from engine.nlp.sentiment import SentimentModel

    model = SentimentModel(np.zeros((N_FEATURES, 3), np.float32), np.zeros(3, np.float32), ("app", "battery"))
    model.save(tmp_path / "m.npz")
    assert SentimentModel.load(tmp_path / "m.npz").neutral == ("app", "battery")


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


def test_salts_give_separate_feature_indices() -> None:
    """A negated unigram is its own feature: the salt must reach the bits the index keeps.

    It did not (the salt was added before the shift right by 20 and dropped),
    so "not good" scored the weight of "good".
    """
    from engine.nlp.features import _hashed_index

    values = np.random.default_rng(5).integers(0, 2**63, size=20_000, dtype=np.uint64)
    plain, negated, gram = (_hashed_index(values, salt) for salt in (1, 2, 7))
    assert np.mean(plain == negated) < 0.001 and np.mean(plain == gram) < 0.001
    docs = list(get_pipeline().pipe(["good", "not good"]))
    features = Featurizer().batch(docs, [0, 0])
    unigram, negated_uni, *_ = features.table.columns()
    good = features.rows[-1]
    assert features.negated.tolist() == [False, False, True]
    assert unigram[good] != negated_uni[good]


def test_the_same_weights_give_a_byte_identical_sentiment_file(tmp_path) -> None:
    """``np.savez_compressed`` stamped the time into the file; retraining must reproduce it byte for byte."""
    import time

    from engine.nlp.features import N_FEATURES
    from engine.nlp.sentiment import SentimentModel

    weights = np.random.default_rng(3).normal(size=(N_FEATURES, 3)).astype(np.float32)
    model = SentimentModel(weights, np.zeros(3, dtype=np.float32))
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    model.save(first)
    time.sleep(2.1)  # a zip entry's time has a resolution of two seconds
    model.save(second)
    assert first.read_bytes() == second.read_bytes()
    loaded = SentimentModel.load(second)
    np.testing.assert_array_equal(loaded.weights, weights.astype(np.float16).astype(np.float32))


def test_brand_split_is_stable_and_keeps_repeats_together() -> None:
    from engine.nlp.brand_data import HELD_OUT, INNER, TRAIN, normalised, part_of

    assert normalised("RT  Love my #iPhone http://t.co/abc ") == "love my #iphone"
    assert part_of("RT Love my #iPhone http://t.co/abc") == part_of("love my #iPhone  http://t.co/xyz")
    parts = [part_of(f"tweet number {i} about @acme") for i in range(5000)]
    share = {p: parts.count(p) / len(parts) for p in (HELD_OUT, INNER, TRAIN)}
    assert 0.17 < share[HELD_OUT] < 0.23 and 0.06 < share[INNER] < 0.10


def test_a_negator_of_a_negative_word_is_its_own_feature() -> None:
    """ "not" in "not bad" is turned: it does not carry the weight "not" learns from "not good"."""
    docs = list(get_pipeline().pipe(["not good", "not bad", "not bad. awful"]))
    features = Featurizer().batch(docs, [0, 0, 0])
    assert features.turned.tolist() == [False, False, True, False, True, False, False, False]
    _, idx, _ = features.coo()
    plain_not = features.table.columns()[0][features.rows[0]]
    assert plain_not in idx.tolist() and features.turned_index()[0] != plain_not
