"""The case's one advance path: opening, completing tasks, and what the process leaves behind."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.auth.service import Principal
from engine.cases import flows
from engine.cases.models import Case
from engine.db import unit_of_work
from engine.events.models import ActivityEvent
from engine.processes import service as definitions
from engine.processes.models import ProcessInstanceRecord
from engine.tasks.models import Task
from engine.tasks.service import TaskNotOpen
from tests.helpers import DATA, auth, drain, signal_body

CSR = Principal(name="csr", role="csr")


def _open_case(client, keys) -> str:
    r = client.post("/api/v1/signals", json=signal_body(), headers=auth(keys["integration"]))
    assert r.status_code == 202, r.text
    drain()
    return client.get(f"/api/v1/signals/{r.json()['id']}", headers=auth(keys["admin"])).json()["case_id"]


def _deploy_parallel() -> None:
    with unit_of_work() as s:
        data = (DATA / "processes" / "parallel_terminate.bpmn").read_bytes()
        version = definitions.add_version(s, data, filename="parallel_terminate.bpmn", actor="test")
        definitions.deploy(s, "reactive_case", version.version, actor="test")


def _types(case_id: str) -> list[str]:
    with unit_of_work() as s:
        stmt = select(ActivityEvent.type).where(ActivityEvent.case_id == case_id).order_by(ActivityEvent.seq)
        return list(s.scalars(stmt))


def test_opening_writes_the_case_its_instance_and_its_first_tasks_together(client, keys):
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        case = s.get(Case, case_id)
        record = s.get(ProcessInstanceRecord, case.process_instance_id)
        tasks = list(s.scalars(select(Task).where(Task.case_id == case_id)))
    assert record.status == "running" and record.state
    assert [t.name for t in tasks] == ["triage"] and tasks[0].instance_id == record.id
    assert _types(case_id)[:1] == ["case.opened"]
    assert {"signal.attached", "task.created"} <= set(_types(case_id))


def test_a_task_the_process_leaves_behind_is_cancelled_with_an_event(client, keys):
    _deploy_parallel()
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        open_tasks = {t.name: t.id for t in s.scalars(select(Task).where(Task.case_id == case_id))}
    assert set(open_tasks) == {"resolve", "follow_up"}
    with unit_of_work() as s:
        case = flows.complete_task(s, open_tasks["resolve"], {"resolution_code": "fixed"}, CSR)
        assert case.status == "resolved"
    with unit_of_work() as s:
        follow_up = s.get(Task, open_tasks["follow_up"])
        assert follow_up.status == "cancelled" and follow_up.completed_at is not None
        assert s.get(Task, open_tasks["resolve"]).completed_by == "csr"
    types = _types(case_id)
    assert types.count("task.cancelled") == 1 and types.count("task.completed") == 1
    assert types.index("task.cancelled") < types.index("case.resolved")


def test_completing_a_task_twice_is_refused_and_changes_nothing(client, keys):
    case_id = _open_case(client, keys)
    with unit_of_work() as s:
        triage = s.scalar(select(Task).where(Task.case_id == case_id))
        flows.complete_task(s, triage.id, {"action": "respond", "priority": "high"}, CSR)
    with unit_of_work() as s:
        state_before = s.get(ProcessInstanceRecord, s.get(Case, case_id).process_instance_id).state
    with pytest.raises(TaskNotOpen), unit_of_work() as s:
        flows.complete_task(s, triage.id, {"action": "respond"}, CSR)
    with unit_of_work() as s:
        assert s.get(ProcessInstanceRecord, s.get(Case, case_id).process_instance_id).state == state_before
    assert _types(case_id).count("task.completed") == 1
