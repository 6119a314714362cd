"""`sift processes validate` works offline; a broken shipped file stops start-up naming the problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.helpers import DATA

CORPUS = DATA / "processes"


def test_validate_prints_every_problem_and_exits_1():
    result = CliRunner().invoke(app, ["processes", "validate", str(CORPUS / "modeler_many_problems.bpmn")])
    assert result.exit_code == 1
    for element in ("Activity_check", "Flow_yes", "Event_sla", "Flow_no", "Gateway_valid"):
        assert f"[{element} " in result.output
    assert ":35: error [Event_sla (4 hours)]" in result.output


def test_validate_a_valid_file_exits_0_with_warnings():
    result = CliRunner().invoke(app, ["processes", "validate", str(CORPUS / "modeler_collaboration.bpmn")])
    assert result.exit_code == 0, result.output
    assert "valid BPMN 'Process_partner_complaint'" in result.output
    assert "warning [Activity_answer" in result.output


def test_validate_hostile_and_missing_files():
    assert CliRunner().invoke(app, ["processes", "validate", str(DATA / "bpmn" / "xxe.bpmn")]).exit_code == 1
    assert CliRunner().invoke(app, ["processes", "validate", "/nonexistent.bpmn"]).exit_code == 2


def test_upload_without_a_key_is_refused(monkeypatch):
    monkeypatch.delenv("SIFT_KEY", raising=False)
    result = CliRunner().invoke(app, ["processes", "upload", str(CORPUS / "modeler_collaboration.bpmn")])
    assert result.exit_code == 2


def test_a_broken_shipped_file_stops_startup_naming_the_problem(db, tmp_path: Path):
    from engine.db import unit_of_work
    from engine.processes import service as definitions

    shutil.copy(CORPUS / "modeler_many_problems.bpmn", tmp_path / "partner.bpmn")
    with pytest.raises(definitions.ShippedDefinitionBroken) as caught, unit_of_work() as session:
        definitions.ensure_shipped(session, tmp_path)
    assert "partner.bpmn" in caught.value.detail and "(JUEL) expression" in caught.value.detail
    assert {f["element_id"] for f in caught.value.fields or []} >= {"Event_sla", "Gateway_valid"}
