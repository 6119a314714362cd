"""The enrichment contract, the rule data files and the streaming behaviour."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from engine.nlp import analysed_part, build_pipeline, enrich, enrich_many, get_pipeline, redact
from engine.nlp.cli import enrich_stream
from engine.nlp.errors import NlpDataError
from engine.nlp.resources import VOCAB_FILE, load_catalogue, load_groups, with_first_char_guard
from engine.nlp.tokenizer import TEXT_KEY

KEYS = {
    "sentiment",
    "intent",
    "topics",
    "entities",
    "urgency",
    "language",
    "keywords",
    "cues",
    "complaint_score",
    "influence",
    "analysed_chars",
}


def test_enrichment_keys_and_entities() -> None:
    found = enrich("@AcmeCare order #A12345 never arrived, call me on +44 7700 900123", {"followers": 10})
    assert set(found) == KEYS
    labels = {(e["label"], e["text"], e["pii"]) for e in found["entities"]}
    assert ("BRAND", "Acme", False) in labels
    assert ("ORDER_ID", "A12345", False) in labels
    assert ("PHONE", "+44 7700 900123", True) in labels
    assert "delivery" in found["topics"] and "unresolved" in found["cues"]


def test_regex_cues_replace_wildcard_patterns() -> None:
    found = enrich("my parcel is still missing and I spent 3 hours on hold")
    assert {"delivery", "customer_service"} <= set(found["topics"])
    assert "unresolved" in found["cues"]
    assert "parcel is still missing" in found["keywords"]


def test_handle_cue_matches_the_handle_only() -> None:
    assert "public_escalation" in enrich("@CNN look at what @AcmeCare did")["cues"]
    assert "public_escalation" not in enrich("@friend look at what @AcmeCare did")["cues"]


def test_hashtags_become_topics() -> None:
    found = enrich("Worst wait ever #StillWaiting #Fail!!")
    assert {"#stillwaiting", "#fail"} <= set(found["topics"])


def test_enrich_many_keeps_order_and_renews_a_grown_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.nlp as nlp_module

    first = get_pipeline()
    monkeypatch.setattr(nlp_module, "_CHUNK_DOCS", 3)
    monkeypatch.setattr(nlp_module, "MAX_STRINGS", len(first.vocab.strings) + 5)
    texts = [f"@user{i} my order #{100000 + i} is late, code{i}x{i}" for i in range(10)]
    got = list(enrich_many((t, None) for t in texts))
    assert [e["entities"][0]["text"] for e in got] == [str(100000 + i) for i in range(10)]
    assert get_pipeline() is not first
    monkeypatch.setattr(nlp_module, "MAX_STRINGS", 10**9)
    assert got == [enrich(t) for t in texts]


def test_doc_keeps_its_text_for_the_components() -> None:
    doc = get_pipeline()("Hello   there  :)")
    assert doc.user_data[TEXT_KEY] == "Hello   there  :)" == doc.text


def test_wildcard_token_pattern_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cues.json"
    pattern = [{"LOWER": "order"}, {"OP": "*"}, {"LOWER": "late"}]
    path.write_text(json.dumps({"cues": {"late": {"patterns": [pattern]}}}))
    with pytest.raises(NlpDataError, match="wildcard"):
        load_groups(path, "cues")


def test_pattern_on_an_attribute_the_blank_pipeline_skips_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cues.json"
    path.write_text(json.dumps({"cues": {"shouting": {"patterns": [[{"SHAPE": "XXXX"}]]}}}))
    nlp = build_pipeline(upto="sift_rules")
    with pytest.raises(NlpDataError, match="SHAPE is not computed"):
        nlp.add_pipe("sift_rules", config={"cues_file": str(path)})


def test_bad_regex_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    topics = {
        "fine": {"phrases": ["ok"]},
        "late": {"phrases": ["late"], "regex": ["order late", "(unclosed"]},
    }
    path.write_text(json.dumps({"topics": topics}, indent=2))
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"(unclosed"' in text)
    with pytest.raises(
        NlpDataError, match=rf"line {line}: topic 'late' regex\[1\]: is not a valid"
    ) as caught:
        load_groups(path, "topics")
    assert caught.value.line == line


def test_bad_catalogue_entry_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    entries = [{"label": "BRAND", "name": "Acme", "aliases": ["acme"]}, {"label": "SHOP", "name": "Bob"}]
    path.write_text('{"entries": [\n' + ",\n".join(json.dumps(e) for e in entries) + "\n]}")
    with pytest.raises(NlpDataError, match=r"line 3: entries\[1\] \('Bob'\): label must be one of"):
        load_catalogue(path)


def test_pattern_error_found_when_the_pipeline_is_built_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cues.json"
    path.write_text(json.dumps({"cues": {"shouting": {"patterns": [[{"SHAPE": "XXXX"}]]}}}, indent=2))
    nlp = build_pipeline(upto="sift_rules")
    with pytest.raises(NlpDataError, match=r"line 5: cue 'shouting' patterns\[0\]"):
        nlp.add_pipe("sift_rules", config={"cues_file": str(path)})


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?P<g0>\b\d+\s*(?:hours?|days)\s+on\b)|(?P<g1>(?<![\w@])@(?:cnn|bbc)\b)|(?P<g2>\border\s+late\b)",
        r"(?:ab)?c|a{0,2}[x-z]",
        r"(?-i:[A-Z])\d|(?>ab|a)c",
        r"s|i|k",
    ],
)
def test_first_char_guard_keeps_every_match(pattern: str) -> None:
    guarded = with_first_char_guard(pattern)
    assert guarded != pattern
    text = "3 days on hold, @cnn x@cnn, ORDER late; abc aac xy Ab3 AB3 \u017f \u0131 \u212a \u0130"
    for flags in (0, re.IGNORECASE):
        plain, fast = re.compile(pattern, flags), re.compile(guarded, flags)
        assert [(m.span(), m.lastgroup) for m in fast.finditer(text)] == [
            (m.span(), m.lastgroup) for m in plain.finditer(text)
        ]


@pytest.mark.parametrize("pattern", [r"a*", r"x|", r"[^x]y", r".x", r"(?i:a)b", r"(a)?\1b"])
def test_first_char_guard_leaves_what_it_cannot_bound(pattern: str) -> None:
    assert with_first_char_guard(pattern) == pattern


def test_build_pipeline_upto_stops_before_sentiment() -> None:
    assert build_pipeline(upto="sift_sentiment").pipe_names == ["sift_rules", "sift_language"]


def test_redact_and_stream() -> None:
    assert redact("mail jane@example.com or +44 7700 900123") == "mail [EMAIL] or [PHONE]"
    out, err = io.StringIO(), io.StringIO()
    ok, bad = enrich_stream(['{"text": "not good at all"}', "", "plain line"], out, err)
    assert (ok, bad) == (2, 1)
    assert err.getvalue() == "line 2: empty line\n"
    labels = [json.loads(line)["sentiment"]["label"] for line in out.getvalue().splitlines()]
    assert labels[0] == "negative"


def test_tokenizer_cache_has_room_after_the_start_up_words() -> None:
    """spaCy's default cap (10,000 chunks) was filled by the start-up word list: nothing met later was cached."""
    tokenizer = get_pipeline().tokenizer
    words = len(VOCAB_FILE.read_text(encoding="utf-8").split())
    assert words > 10_000
    assert tokenizer.max_cache_size >= 10 * words


def test_stream_reads_a_tweet_that_opens_with_a_brace_as_text_and_reports_broken_json() -> None:
    lines = ["{New Post} our store opens at 9", '{"text": "cut off mid-obj', '{"text": 5}']
    out, err = io.StringIO(), io.StringIO()
    assert enrich_stream(lines, out, err) == (1, 2)
    assert err.getvalue().splitlines() == [
        "line 2: invalid JSON (Unterminated string starting at, column 10)",
        'line 3: "text" must be a non-empty string',
    ]


def test_an_installed_spacy_pipeline_replaces_the_blank_one(tmp_path: Path) -> None:
    """SIFT_NLP_MODEL takes a package name or a path, as ``spacy.load`` does; Sift's components go on top."""
    import spacy

    from engine.nlp.components import analysis

    base = spacy.blank("en")
    base.add_pipe("sentencizer")
    ruler = base.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ORG", "pattern": "Initech"}])
    base.to_disk(tmp_path / "model")
    nlp = build_pipeline(str(tmp_path / "model"))
    assert nlp.pipe_names[:2] == ["sentencizer", "entity_ruler"]
    doc = nlp("@AcmeCare my order #A12345 never arrived. Initech was faster")
    assert [e.text for e in doc.ents] == ["Initech"]
    assert analysis(doc).intent == "complaint"
    assert "#A12345" in [t.text for t in doc]  # the social tokenizer replaced the package's


def test_first_char_guard_falls_back_when_the_private_parser_is_missing_or_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine.nlp import resources

    pattern = r"\border\s+late\b"
    monkeypatch.setattr(resources, "_parser", None)
    assert with_first_char_guard(pattern) == pattern

    class Changed:
        @staticmethod
        def parse(_pattern: str) -> object:
            raise AttributeError("no .data on the new parse tree")

    monkeypatch.setattr(resources, "_parser", Changed)
    assert with_first_char_guard(pattern) == pattern


def test_a_long_text_is_read_up_to_the_window_cut_at_whitespace() -> None:
    head = "@acme my order #A12345 never arrived. " * 200  # 7,600 characters
    found = enrich(head + "call me on +44 7700 900123")
    assert 4_000 <= found["analysed_chars"] <= 5_000
    assert head[found["analysed_chars"]].isspace()  # no word read half
    assert "A12345" in {e["text"] for e in found["entities"]}
    assert "+44 7700 900123" not in {e["text"] for e in found["entities"]}  # past the window
    short = "@acme where is my parcel"
    assert enrich(short)["analysed_chars"] == len(short)


def test_the_window_cuts_a_text_without_whitespace_at_the_limit() -> None:
    assert analysed_part("x" * 9_000, 5_000) == "x" * 5_000
    assert analysed_part("ab " * 10, 29) == "ab " * 9 + "ab"
    assert analysed_part("ab " * 10, 30) == "ab " * 10
    early_space = "y" * 10 + " " + "z" * 100  # its only space is far before the limit
    assert analysed_part(early_space, 100) == early_space[:100]


def test_threads_enriching_at_once_get_what_one_thread_gets() -> None:
    """The pipeline's tables grow as new words arrive; threads sharing it must not tear them."""
    import threading

    get_pipeline.cache_clear()  # a fresh table, so every thread adds rows
    texts = [
        f"@acme order A{n} {'never arrived' if n % 2 else 'was great'} word{n}x{n * 7}" for n in range(400)
    ]
    expected = {t: enrich(t) for t in texts}
    get_pipeline.cache_clear()
    got: dict[str, dict] = {}
    lock = threading.Lock()

    def work(part: list[str]) -> None:
        for text in part:
            result = enrich(text)
            with lock:
                got[text] = result

    def work_many(part: list[str]) -> None:
        for text, result in zip(part, enrich_many((t, None) for t in part), strict=True):
            with lock:
                got[text] = result

    threads = [threading.Thread(target=work, args=(texts[i::4],)) for i in range(3)]
    threads.append(threading.Thread(target=work_many, args=(texts[3::4],)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert got == expected
    assert enrich(texts[0]) == expected[texts[0]]
