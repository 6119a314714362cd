"""The sift command line as a user runs it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()


def test_enrich_streams_json_lines_and_plain_text_and_reports_bad_lines():
    stdin = "\n".join(
        [
            json.dumps(
                {"text": "@acme my order A12345 never arrived", "author": {"handle": "@x", "followers": 10}}
            ),
            '{"text": "broken json',  # cut off: reported, the rest still processed
            "plain text line: love the new app 😍",
        ]
    )
    result = runner.invoke(app, ["enrich"], input=stdin + "\n")
    assert result.exit_code == 1  # a bad line was reported
    out = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(out) == 2
    assert out[0]["intent"] == "complaint" and out[0]["sentiment"]["label"] == "negative"
    assert {"sentiment", "intent", "topics", "entities", "urgency", "language", "keywords"} <= set(out[1])
    assert "line 2" in result.stderr


def test_keys_create_prints_the_key_once(db):
    result = runner.invoke(app, ["keys", "create", "--name", "alice", "--role", "csr"])
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    assert made["name"] == "alice" and made["key"].startswith("sift_")
    again = runner.invoke(app, ["keys", "create", "--name", "alice", "--role", "csr"])
    assert again.exit_code == 2 and "exists already" in again.stderr
    bad = runner.invoke(app, ["keys", "create", "--name", "bob", "--role", "root"])
    assert bad.exit_code == 2 and "Unknown role" in bad.stderr


def test_customers_import_from_a_file(db, tmp_path):
    path = tmp_path / "crm.csv"
    path.write_text(
        "external_ref,name,lifetime_value,tier,handles\nc1,Ann,600,,twitter:@ann\nc2,Bad,x,,twitter:@b\n"
    )
    result = runner.invoke(app, ["customers", "import", str(path)])
    assert result.exit_code == 1
    assert "1 created" in result.stdout and "line 3" in result.stderr


def test_a_missing_nlp_model_stops_enrich_with_one_clear_line(monkeypatch):
    from engine.config import get_settings
    from engine.nlp import get_pipeline

    monkeypatch.setenv("SIFT_NLP_MODEL", "no_such_spacy_package")
    get_settings.cache_clear()
    get_pipeline.cache_clear()
    try:
        result = runner.invoke(app, ["enrich"], input="my order never arrived\n")
    finally:
        monkeypatch.delenv("SIFT_NLP_MODEL")
        get_settings.cache_clear()
        get_pipeline.cache_clear()
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: SIFT_NLP_MODEL='no_such_spacy_package' is not an installed spaCy package; "
        "install it or unset the variable."
    )
    assert result.stdout == ""
