"""Analysing adversarial maximum-size texts costs time linear in their length.

The whole text goes through the pipeline here, not only the part a signal's
enrichment reads (``analysed_part``), so the bound holds past the window too.
Each shape of ``bench/adversarial.py`` is enriched at N and 4N characters in
the same run; a linear step gives about 4x, a quadratic one 16x, the
backtracking regexes fixed here far more. The bound is generous because the
machine is shared, and no absolute time is asserted.
"""

from __future__ import annotations

import random
import re
import time

import numpy as np
import pytest

from bench.adversarial import SHAPES
from engine.config import get_settings
from engine.nlp import enrich, entities, get_pipeline
from engine.nlp.components import analysis
from engine.nlp.tokenizer import MAX_CHUNK

RATIO_BOUND = 12.0


def _time(shape: str, size: int, salt: int) -> float:
    text = SHAPES[shape](size, salt)  # a fresh salt: nothing comes from the tokenizer cache
    nlp = get_pipeline()
    start = time.perf_counter()
    analysis(nlp(text))
    return time.perf_counter() - start


def _ratio(shape: str, small: int, large: int, salt: int) -> tuple[float, float, float]:
    """Best time at ``large`` over best time at ``small``, sizes alternated four times (noise hits both)."""
    _time(shape, small, salt), _time(shape, large, salt + 1)  # warm: lazily built parts, first norms
    smalls, larges = [], []
    for i in range(4):
        smalls.append(_time(shape, small, salt + 10 + i))
        larges.append(_time(shape, large, salt + 20 + i))
    return min(larges) / min(smalls), min(smalls), min(larges)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_enrichment_time_grows_linearly_with_the_text(shape: str) -> None:
    get_pipeline()
    full = get_settings().max_text_chars
    ratio, small, large = _ratio(shape, full // 4, full, 100)
    if ratio >= RATIO_BOUND:  # once more: other jobs on the machine can slow a whole round of one size
        ratio, small, large = min((ratio, small, large), _ratio(shape, full // 4, full, 200))
    assert ratio < RATIO_BOUND, (
        f"{shape}: {small * 1e3:.1f} ms at {full // 4}, {large * 1e3:.1f} ms at {full}"
    )


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_adversarial_doc_keeps_the_text(shape: str) -> None:
    text = SHAPES[shape](5_000, 7)
    assert get_pipeline()(text).text == text


def test_long_chunks_are_split_and_the_text_around_them_tokenized_as_before() -> None:
    nlp = get_pipeline()
    around = "I don't  know , isn't it\n"
    text = f"{around}{':)' * MAX_CHUNK} {around}https://x.co/{'a/' * MAX_CHUNK}"
    tokens = [t.text for t in nlp(text)]
    expected = [t.text for t in nlp(around)]
    assert tokens[: len(expected)] == expected
    assert tokens[len(expected) : len(expected) + 2] == [":", ")"]
    assert tokens[-1].startswith("https://x.co/a/a/")
    assert [t.norm_ for t in nlp(text)][2] == "not"  # token norms of the text between kept


def test_overlapping_catalogue_names_keep_the_longest_first() -> None:
    found = enrich("my galaxy note 7 and acme phone and acme")["entities"]
    assert [(e["label"], e["text"]) for e in found] == [
        ("PRODUCT", "Galaxy"),
        ("PRODUCT", "Acme Phone"),
        ("BRAND", "Acme"),
    ]


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")  # the pattern ``entities._email_spans`` follows


@pytest.mark.parametrize(
    "text",
    [
        "a@b.co",
        "a@b.co+x@y.zz",
        "a@b.co.+x@y.zz",
        " @x.co@y.zz",
        "a@b@c.de",
        "x.y+z@a-b.c.d, e@f.gh.",
        "@@a.b",
    ],
)
def test_email_spans_are_those_of_the_email_regex(text: str) -> None:
    assert list(entities._email_spans(text)) == [m.span() for m in _EMAIL.finditer(text)]


def test_email_spans_match_the_regex_on_random_text() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(
            rng.choice(["a", "b", ".", "+", "-", "@", " ", "x.co", "_"]) for _ in range(rng.randint(1, 25))
        )
        assert list(entities._email_spans(text)) == [m.span() for m in _EMAIL.finditer(text)], text


def test_pattern_entities_drop_overlaps_with_an_earlier_kind() -> None:
    text = "mail jane@example.com or call 0770 090 0123, order A123456 for $40"
    assert [(label, text[s:e]) for label, s, e in entities.find(text)] == [
        ("EMAIL", "jane@example.com"),
        ("PHONE", "0770 090 0123"),
        ("ORDER_ID", "A123456"),
        ("MONEY", "$40"),
    ]


def test_english_affix_rules_get_the_linear_searches() -> None:
    """A spaCy upgrade that changes the rules' shape shows up here, not as a slow tokenizer."""
    import spacy

    from engine.nlp.tokenizer import _last_char_dispatch, _split_suffix_search

    tokenizer = get_pipeline().tokenizer
    assert tokenizer.prefix_search.__name__ == "match"
    assert tokenizer.url_match.__name__ == "dotted_url_match"
    assert _split_suffix_search(list(spacy.blank("en").Defaults.suffixes), str) is not None
    assert _last_char_dispatch(list(spacy.blank("en").Defaults.suffixes), str) is not None


def test_last_character_dispatch_and_the_url_guard_find_what_spacy_finds() -> None:
    """Suffixes searched only with the rules that can end with the last character, and URLs looked for
    only in text with a ".", against spaCy's own regexes on random chunks of the characters they use."""
    import spacy
    from spacy.lang.tokenizer_exceptions import URL_MATCH
    from spacy.util import compile_suffix_regex

    from engine.nlp.tokenizer import _last_char_dispatch

    rules = list(spacy.blank("en").Defaults.suffixes)
    full = compile_suffix_regex(rules).search
    dispatch = _last_char_dispatch(rules, full)
    assert dispatch is not None
    url_match = get_pipeline().tokenizer.url_match
    rng = random.Random(5)
    pieces = [
        *"aAkmgsS'\u20190159.,!?)(]\"…$€%+-:/@#°²_\n",
        "km",
        "mph",
        "'s",
        "www.",
        "https://",
        ".com",
        ".co",
        "ab",
    ]
    suffixes = urls = 0
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        expected, got = full(text), dispatch(text)
        assert (expected and expected.span()) == (got and got.span()), text
        assert bool(url_match(text)) == bool(URL_MATCH(text)), text
        suffixes += expected is not None
        urls += URL_MATCH(text) is not None
    assert suffixes > 5_000 and urls > 100  # both kinds of answer were checked


def test_suffix_search_over_the_tail_finds_what_the_full_search_finds() -> None:
    import spacy
    from spacy.util import compile_suffix_regex

    from engine.nlp.tokenizer import _split_suffix_search, _tail_search

    regex = compile_suffix_regex(spacy.blank("en").Defaults.suffixes)
    tail = _tail_search(regex.search, regex.pattern)
    split = _split_suffix_search(list(spacy.blank("en").Defaults.suffixes), regex.search)
    assert tail is not regex.search
    rng = random.Random(3)
    pieces = ["a", "1", ".", "..", ")", ":", "km", "°", "C", "'s", "%", "$", "!", "…", "x"]
    pieces += ["A", "B", "\n", "m²", "£", "—", "+", '"', "\U0001f600", "©"]
    pieces += ["……", "ё", "Я", "mph", "gb", "'S", "٪"]
    for _ in range(20000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        if rng.random() < 0.1:
            text += "." * rng.randint(5, 300)
        full = regex.search(text)
        assert (tail(text) and tail(text).span()) == (full and full.span()), text
        assert (split(text) and split(text).span()) == (full and full.span()), text


def test_symbol_runs_past_the_budget_are_split_and_those_before_it_keep_spacys_tokens() -> None:
    from engine.nlp.tokenizer import MIN_SYMBOL_RUN, SYMBOL_BUDGET

    nlp = get_pipeline()
    run = "(:)!;)" + "." * (MIN_SYMBOL_RUN - 6)  # spaCy: "(", ":)", "!", ";)", ".."
    assert len(run) == MIN_SYMBOL_RUN
    spacy_tokens = [t.text for t in nlp(run)]
    count = SYMBOL_BUDGET // len(run)
    text = " ".join([run] * count + ["I don't", run, "know"])
    tokens = [t.text for t in nlp(text)]
    assert tokens[: len(spacy_tokens) * count] == spacy_tokens * count  # within the budget: spaCy's tokens
    assert tokens[len(spacy_tokens) * count :] == ["I", "do", "n't", *run, "know"]  # past it: one symbol each
    assert nlp(text).text == text


def test_a_text_within_the_symbol_budget_is_tokenized_by_spacy_rules_alone() -> None:
    from engine.nlp.tokenizer import SYMBOL_BUDGET

    nlp = get_pipeline()
    rng = random.Random(4)
    chunks = ["".join(rng.choice(":;()!?.'\"$%[]") for _ in range(rng.randint(8, 20))) for _ in range(300)]
    text = " ".join(chunks)
    assert len(text) > SYMBOL_BUDGET
    cut = text[: text.rindex(" ", 0, SYMBOL_BUDGET)]
    expected = [t.text for c in cut.split(" ") for t in nlp(c)]
    assert [t.text for t in nlp(text)][: len(expected)] == expected


def test_distinct_long_words_renew_the_pipeline_once_their_characters_pass_the_bound(monkeypatch) -> None:
    import engine.nlp as nlp_package

    get_pipeline.cache_clear()
    first = get_pipeline()
    monkeypatch.setattr(nlp_package, "MAX_LONG_TOKEN_CHARS", 3 * 5_000 - 1)
    rng = random.Random(8)
    words = ["".join(rng.choice("abcdefghij") for _ in range(5_000)) for _ in range(5)]
    for word in words[:3]:
        enrich(word)
    assert get_pipeline() is first and first.tokenizer.long_chars == 15_000
    enrich(words[3])  # the store now holds more than the bound: this call builds a new pipeline
    renewed = get_pipeline()
    assert renewed is not first and renewed.tokenizer.long_chars == 5_000
    assert enrich(words[4]) == enrich(words[4])
    get_pipeline.cache_clear()


def test_norm_table_starts_over_past_its_n_gram_bound_and_scores_the_same() -> None:
    from spacy.strings import hash_string

    from engine.nlp.features import NormTable

    rng = random.Random(9)
    long_norms = [
        "".join(rng.choice("abcdefghij") for _ in range(100)) for _ in range(20)
    ]  # ~290 n-grams each
    table = NormTable(max_grams=1_000)
    strings = {hash_string(n): n for n in long_norms}
    fresh = NormTable()
    for norm in long_norms:
        row = table.lookup(np.array([hash_string(norm)], dtype=np.uint64), strings)[0]
        assert table.n_grams <= 1_000 + 300
        expected = fresh.lookup(np.array([hash_string(norm)], dtype=np.uint64), strings)[0]
        assert table.row_grams(row).tolist() == fresh.row_grams(expected).tolist()
    assert table.generation > 1
