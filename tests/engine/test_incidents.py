"""A process that fails at run time holds its case at the failed element as an incident:
the signal is processed, the case opens, and a retry (with patched data, or after moving the
instance onto a fixed version) carries it on."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.auth.service import Principal
from engine.cases import flows
from engine.cases.models import Case
from engine.db import unit_of_work
from engine.events.models import ActivityEvent
from engine.incidents import service as incidents
from engine.incidents.models import Incident
from engine.processes import service as definitions
from engine.processes.models import ProcessInstanceRecord
from engine.signals import service as signals
from engine.signals.models import Signal
from engine.tasks.models import Task
from engine.worker.service import run_once
from tests.helpers import DATA, signal_body

FAILING = (DATA / "processes" / "failing_script.bpmn").read_bytes()
FIXED = FAILING.replace(b"score = points * 2", b"score = 2")
OWNER = Principal(name="owner", role="process_owner")


def _deploy(xml: bytes) -> int:
    with unit_of_work() as s:
        version = definitions.add_version(s, xml, actor="owner")
        definitions.deploy(s, version.key, version.version, actor="owner")
        return version.version


def _accept() -> str:
    from api.signals.schemas import SignalIn

    with unit_of_work() as s:
        (accepted,) = signals.accept(s, [SignalIn(**signal_body()).to_engine()])
        return accepted.id


def _open_incident() -> tuple[str, str, str]:
    """A signal opening a case on the failing version: (signal id, case id, incident id)."""
    _deploy(FAILING)
    signal_id = _accept()
    assert run_once() == 1
    with unit_of_work() as s:
        signal = s.get(Signal, signal_id)
        assert (signal.status, signal.attempts, signal.error) == ("processed", 0, None)
        (incident,) = s.scalars(select(Incident)).all()
        return signal_id, signal.case_id, incident.id


def test_a_failing_script_opens_the_case_with_an_incident_instead_of_failing_the_signal(db):
    _, case_id, incident_id = _open_incident()
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        assert case.status == "open" and case.stage == "score"
        incident = s.get(Incident, incident_id)
        assert (incident.status, incident.element_id, incident.error, incident.attempts) == (
            "open",
            "score",
            "ScriptFailed",
            1,
        )
        assert "points" in incident.message and incident.process_version == 2
        record = s.get(ProcessInstanceRecord, incident.instance_id)
        assert record.status == "incident"
        types = [e.type for e in s.scalars(select(ActivityEvent).where(ActivityEvent.case_id == case_id))]
        assert "incident.opened" in types
        assert s.scalars(select(Task).where(Task.case_id == case_id)).all() == []


def test_a_retry_with_the_missing_data_runs_the_script_and_resolves_the_incident(db):
    _, case_id, incident_id = _open_incident()
    with unit_of_work() as s:
        flows.retry(s, incident_id, {}, None, OWNER)  # still missing: fails again, counted
    with unit_of_work() as s:
        assert (s.get(Incident, incident_id).status, s.get(Incident, incident_id).attempts) == ("open", 2)
    with unit_of_work() as s:
        flows.retry(s, incident_id, {"points": 4}, None, OWNER)
    with unit_of_work() as s:
        incident = s.get(Incident, incident_id)
        assert (incident.status, incident.resolution, incident.resolved_by) == (
            "resolved",
            "retried",
            "owner",
        )
        case = s.get(Case, case_id)
        assert case.stage == "triage"
        (task,) = s.scalars(select(Task).where(Task.case_id == case_id)).all()
        assert task.name == "triage" and task.status == "open"
        assert s.get(ProcessInstanceRecord, incident.instance_id).status == "running"
        types = [e.type for e in s.scalars(select(ActivityEvent).where(ActivityEvent.case_id == case_id))]
        assert types.count("incident.opened") == 1 and types.count("incident.resolved") == 1


def test_a_fixed_version_is_migrated_to_and_the_retry_runs_it_to_completion(db, keys):
    _, case_id, incident_id = _open_incident()
    fixed = _deploy(FIXED)
    with unit_of_work() as s:
        flows.retry(s, incident_id, {}, fixed, OWNER)
    with unit_of_work() as s:
        incident = s.get(Incident, incident_id)
        assert incident.status == "resolved"
        record = s.get(ProcessInstanceRecord, incident.instance_id)
        assert (record.process_version, record.status) == (fixed, "running")
        (task,) = s.scalars(select(Task).where(Task.case_id == case_id)).all()
    with unit_of_work() as s:
        flows.complete_task(s, task.id, {}, Principal(name="csr", role="csr"))
    with unit_of_work() as s:
        assert s.get(Case, case_id).status == "resolved"


def test_a_resolved_incident_cannot_be_retried_and_an_unknown_one_is_not_found(db):
    from engine.errors import NotFound

    _, _, incident_id = _open_incident()
    with unit_of_work() as s:
        flows.retry(s, incident_id, {"points": 1}, None, OWNER)
    with unit_of_work() as s, pytest.raises(incidents.IncidentResolved):
        flows.retry(s, incident_id, {"points": 1}, None, OWNER)
    with unit_of_work() as s, pytest.raises(NotFound):
        flows.retry(s, "nope", {}, None, OWNER)
