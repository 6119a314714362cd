"""The one owner of a case's process.

Every change to a case's process goes through :func:`advance`, in the caller's transaction:
lock the instance (its row on PostgreSQL; SQLite has one writer), restore it, act, run engine
steps to the next wait state, save, derive the task rows and the timer rows, and apply what the
process did to the case. Its actions: opening a case (the worker), completing a task (a CSR), a
BPMN timer coming due (the timer service), a message into the process (an SLA breach, a
customer's message correlating in) and ending it early (a merge into another case). Nothing else calls the process runtime for a case.

After every action the case shows its stage (the user task it waits at, or its lane, or the
event it waits on) with when it entered it; a process waiting for the customer's message makes
the case ``waiting`` (its resolution clock pauses), and work for a CSR makes it ``open`` again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.auth.service import Principal
from engine.cases import clocks, transitions
from engine.cases import service as cases
from engine.cases.models import Case
from engine.config import get_settings
from engine.db import utcnow
from engine.delivery import replies
from engine.errors import Conflict, NotFound
from engine.events import service as events
from engine.incidents import service as incidents
from engine.processes import instances
from engine.processes.context import acting_for
from engine.signals.models import Signal
from engine.sla.durations import iso
from engine.tasks import service as tasks
from engine.tasks.models import COMPLETED
from engine.timers import service as timers

if TYPE_CHECKING:
    from engine.processes.models import ProcessInstanceRecord
    from engine.runtime import ProcessInstance, UserTaskView


@dataclass(frozen=True)
class Start:
    """Start the case's process: the deployed version of ``process_key``, seeded with ``data``."""

    process_key: str
    data: dict[str, Any]
    actor: str
    version: int | None = None  # None: the deployed version (another: a replay test's dry run)


@dataclass(frozen=True)
class CompleteTask:
    """Complete an open user task of the case with ``data`` (checked against its form)."""

    task_id: str
    data: dict[str, Any]
    who: Principal
    canned: dict[str, str] | None = None  # {"id", "name"}: the respond reply came from a canned reply

    @property
    def actor(self) -> str:
        return self.who.name


@dataclass(frozen=True)
class FireTimer:
    """A BPMN timer event the instance waits on (task ``task_id``) has come due."""

    task_id: str
    actor: str = "timer"


@dataclass(frozen=True)
class Message:
    """Deliver BPMN message ``name`` with ``payload``; nothing changes if nothing waits for it."""

    name: str
    payload: dict[str, Any]
    actor: str


@dataclass(frozen=True)
class End:
    """End the case's process where it stands (its open tasks and timers cancelled) and close
    the case with ``resolution``: a merge into another case; or, with ``status`` resolved and a
    ``reply`` queued to the customer first, an investigation answering its linked cases."""

    resolution: dict[str, Any]
    actor: str
    status: str = transitions.CLOSED
    reply: str | None = None
    canned: dict[str, str] | None = None


@dataclass(frozen=True)
class Migrate:
    """Move the running instance onto ``version`` of its process where it stands (see
    CompiledProcess.migrate); refused, changing nothing, when it waits at or ran an element the
    version does not have."""

    version: int
    actor: str


@dataclass(frozen=True)
class Retry:
    """Run the failed task of incident ``incident_id`` again, with ``data`` merged into what it
    reads, after moving the instance onto ``version`` of its process when one is given."""

    incident_id: str
    data: dict[str, Any]
    version: int | None
    who: Principal

    @property
    def actor(self) -> str:
        return self.who.name


Action = Start | CompleteTask | FireTimer | Message | End | Retry | Migrate


@dataclass(frozen=True)
class Outcome:
    """What one advance did: the task rows it created, and whether the process has ended."""

    created_tasks: list[str]  # the ids of the task rows it added
    process_completed: bool
    caught: bool = True  # False: a message or timer nothing in the instance waits for any more


BPMN_TIMER = "bpmn"
CUSTOMER_MESSAGE = "customer_message"  # the BPMN message a customer's reply or new mention sends
LINKED_RESOLVED = "linked_cases_resolved"  # a parent case's children are all resolved or closed
SETTLED = (transitions.RESOLVED, transitions.CLOSED)
COMPLETED_STAGE = ("resolved", "Resolved")
CLOSED_STAGE = ("closed", "Closed")


class CaseHasNoProcess(Conflict):
    def __init__(self, case_id: str) -> None:
        super().__init__(f"Case {case_id} has no process to advance.")


def open(
    session: Session,
    opening: cases.Opening,
    *,
    process_key: str,
    seed: dict[str, Any],
    actor: str,
    rule: str | None = None,
    version: int | None = None,
) -> Case:
    """Opens a case and starts its process (the deployed version, or ``version``) to the first
    wait state; ``seed`` joins the case's own fields in the process data. Either both exist after
    the transaction, or neither."""
    case = cases.open_case(session, opening, actor=actor, rule=rule)
    advance(session, case, Start(process_key, _seed(case, seed, reopened=False), actor, version))
    return case


@dataclass(frozen=True)
class Preview:
    """Where a case a dry run opened stood after its process's first steps; durations are in
    seconds from its opening."""

    status: str
    stage: str | None
    stage_title: str | None
    tasks: list[str]
    incident: bool
    due_in: dict[str, float]  # first_response, resolution, stage:<task>: the SLA clocks it started


def dry_run(
    session: Session,
    opening: cases.Opening,
    *,
    process_key: str,
    version: int | None,
    seed: dict[str, Any],
    actor: str,
) -> Preview:
    """What :func:`open` would do with version ``version`` of ``process_key``, in a savepoint
    that is rolled back: no case, instance, task, timer or event of it stays."""
    events.write_pending(session)  # what came before stays, whatever the savepoint does
    before = len(events.pending(session))
    savepoint = session.begin_nested()
    try:
        case = open(session, opening, process_key=process_key, seed=seed, actor=actor, version=version)
        session.flush()
        opened = case.created_at
        due_in = {
            name: (at - opened).total_seconds()
            for name, at in (
                ("first_response", case.first_response_due_at),
                ("resolution", case.resolution_due_at),
            )
            if at is not None
        }
        for name, clock in (case.sla_stages or {}).items():
            if clock.get("due"):
                due_in[name] = (_aware(clock["due"]) - _aware(opened)).total_seconds()
        preview = Preview(
            status=case.status,
            stage=case.stage,
            stage_title=case.stage_title,
            tasks=sorted(t.name for t in tasks.for_case(session, case.id)),
            incident=case.process_instance_id is not None
            and bool(incidents.open_for_instance(session, case.process_instance_id)),
            due_in=due_in,
        )
    finally:
        savepoint.rollback()
        del events.pending(session)[before:]
    return preview


def _aware(value: Any) -> datetime:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _seed(case: Case, seed: dict[str, Any], *, reopened: bool) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "priority": case.priority,
        "queue": case.queue,
        "topic": case.topic,
        "reopened": reopened,
        "quiet_period": iso(get_settings().conversation_quiet_period),
        **seed,
    }


def customer_message(session: Session, case: Case, signal_id: str, *, via: str, rule: str | None) -> Outcome:
    """A customer's reply or new mention joins the open ``case``: its clocks hear of it (a paused
    resolution clock resumes, a next response falls due), the message goes into its process
    (where a wait for the customer resumes), and the timeline says so."""
    clocks.customer_message(session, case)
    outcome = advance(session, case, Message(CUSTOMER_MESSAGE, {"signal_id": signal_id}, "customer"))
    events.record(
        session,
        "signal.attached",
        case_id=case.id,
        actor="customer",
        data={"signal_id": signal_id, "via": via, "resumed_process": outcome.caught, "rule": rule},
    )
    return outcome


def reopen(session: Session, case: Case, signal_id: str, *, via: str, rule: str | None) -> Case:
    """A resolved ``case`` reopens for a customer's new message within the reopen window: it is
    ``open`` again and a new instance of its process starts straight into a conversation turn
    (``reopened`` true); the earlier instance stays as it ended."""
    if case.process_instance_id is None:
        raise CaseHasNoProcess(case.id)
    process_key = instances.process_key_of(session, case.process_instance_id)
    cases.transition(
        session, case, transitions.OPEN, actor="customer", data={"signal_id": signal_id, "via": via}
    )
    case.resolution = None
    cases.recheck_holder(session, case)
    seed = {"reopened_by": signal_id}
    advance(session, case, Start(process_key, _seed(case, seed, reopened=True), "customer"))
    events.record(
        session,
        "signal.attached",
        case_id=case.id,
        actor="customer",
        data={"signal_id": signal_id, "via": via, "reopened": True, "rule": rule},
    )
    return case


def complete_task(
    session: Session,
    task_id: str,
    data: dict[str, Any],
    who: Principal,
    *,
    canned: dict[str, str] | None = None,
) -> Case:
    """Completes an open task with ``data`` and advances its case's process; ``canned`` names the
    canned reply a respond task's ``reply`` was rendered from (engine/canned)."""
    task = tasks.get(session, task_id)
    case = cases.get(session, task.case_id)
    advance(session, case, CompleteTask(task_id, data, who, canned))
    return case


def retry(
    session: Session, incident_id: str, data: dict[str, Any], version: int | None, who: Principal
) -> Case:
    """Retries an open incident's failed task (see :class:`Retry`) through its case's flow."""
    incident = incidents.get_open(session, incident_id)
    case = cases.get(session, incident.case_id)
    advance(session, case, Retry(incident_id, data, version, who))
    return case


def advance(session: Session, case: Case, action: Action) -> Outcome:
    """Acts on the case's process and brings the task rows, the incidents and the case in line
    with it.

    A script, service call or expression that fails does not undo the action: its task is held
    at its element as an incident (engine/incidents) and the rest is saved. If anything else
    raises, nothing is saved: the caller's transaction (or savepoint) rolls back, and the
    stored state is as it was."""
    new = isinstance(action, Start)
    retried: str | None = None
    with acting_for(session, case, action.actor):
        if isinstance(action, Start):
            record, instance = instances.start(session, action.process_key, action.data, action.version)
            case.process_instance_id = record.id
        else:
            if case.process_instance_id is None:
                raise CaseHasNoProcess(case.id)
            record, instance = instances.load(session, case.process_instance_id)  # locks it
            if isinstance(action, Retry):
                instance, retried = _retry(session, record, instance, action)
            elif isinstance(action, Migrate):
                instance = _migrate(session, case, record, instance, action)
            elif not _act(session, case, instance, action):
                return Outcome([], instance.is_completed, caught=False)
    had_incident = record.status == instances.INCIDENT
    instances.save(session, record, instance)
    if had_incident or retried or record.status == instances.INCIDENT:
        _sync_incidents(session, case, record, instance, action.actor, retried)
    open_tasks = instance.open_user_tasks()
    created = tasks.sync(session, case, record, open_tasks, new=new)
    clocks.track_stages(session, case, lambda: {v.id: v.name for v in open_tasks})
    timers.sync_waiting(
        session,
        BPMN_TIMER,
        case_id=case.id,
        instance_id=record.id,
        waiting=instance.waiting_timers(),
        new=new,
        fired_now=isinstance(action, FireTimer),
    )
    settled = False
    if instance.is_completed and case.status not in SETTLED:
        if isinstance(action, End) and action.reply:
            _queue_reply(session, case, action.reply, actor=action.actor, canned=action.canned)
        status, resolution = (
            (action.status, action.resolution)
            if isinstance(action, End)
            else (transitions.RESOLVED, _resolution(instance.data))
        )
        cases.transition(session, case, status, actor=action.actor, data=resolution)
        case.resolution = resolution
        settled = True
    _follow_stage(session, case, instance, open_tasks, action.actor)
    if settled and case.parent_id is not None:
        settle_parent(session, case.parent_id, actor=action.actor)
    return Outcome(created, instance.is_completed)


def migration_blockers(session: Session, case: Case, version: int) -> list[Any]:
    """Why the case's instance could not move to ``version`` of its process (empty: it can);
    changes nothing."""
    if case.process_instance_id is None:
        raise CaseHasNoProcess(case.id)
    record, instance = instances.load(session, case.process_instance_id)
    return instances.blockers(session, record, instance, version)


def children_count(session: Session, parent_id: str) -> tuple[int, int]:
    """How many of the case's children are resolved or closed, of how many."""
    counts = cases.children_counts(session, parent_id)
    return sum(counts.get(s, 0) for s in SETTLED), sum(counts.values())


def settle_parent(session: Session, parent_id: str, *, actor: str) -> Outcome | None:
    """A child was resolved or closed: when every child of the parent now is, the parent's
    process hears ``linked_cases_resolved`` (an investigation's communicate step waits for it;
    nothing changes if nothing waits). Returns what that did, None when some are still open."""
    parent = session.get(Case, parent_id)
    if parent is None or parent.status in SETTLED or parent.process_instance_id is None:
        return None
    settled, total = children_count(session, parent_id)
    if settled < total:
        return None
    return advance(session, parent, Message(LINKED_RESOLVED, {"resolved": settled, "total": total}, actor))


def _migrate(
    session: Session, case: Case, record: ProcessInstanceRecord, instance: ProcessInstance, action: Migrate
) -> ProcessInstance:
    before = record.process_version
    moved = instances.move(session, record, instance, action.version)
    events.record(
        session,
        "process.instance_migrated",
        case_id=case.id,
        actor=action.actor,
        data={
            "instance_id": record.id,
            "process_key": record.process_key,
            "from_version": before,
            "to_version": action.version,
        },
    )
    return moved


def _retry(
    session: Session, record: ProcessInstanceRecord, instance: ProcessInstance, action: Retry
) -> tuple[ProcessInstance, str]:
    incident = incidents.get_open(session, action.incident_id)
    if incident.instance_id != record.id:
        raise NotFound("incident", f"{action.incident_id} of instance {record.id}")
    if action.version is not None and action.version != record.process_version:
        instance = instances.migrate(session, record, instance, action.version)
    instance.retry(incident.task_id, action.data)
    return instance, incident.task_id


def _sync_incidents(
    session: Session,
    case: Case,
    record: ProcessInstanceRecord,
    instance: ProcessInstance,
    actor: str,
    retried: str | None,
) -> None:
    """Opens an incident for each task this action failed at and resolves those no longer
    failed (a completed process leaves none open)."""
    if instance.failures:
        session.flush()  # the case and instance rows exist before a new incident names them
    where = incidents.Where(case.id, record.id, record.process_key, record.process_version)
    failures = [
        incidents.Failure(f.task_id, f.element_id, f.title, f.error, f.message) for f in instance.failures
    ]
    still = set() if instance.is_completed else {task_id for task_id, _, _ in instance.failed_tasks()}
    incidents.sync(session, where, failures, still, actor=actor, retried=retried)


def _follow_stage(
    session: Session, case: Case, instance: ProcessInstance, open_tasks: list[UserTaskView], actor: str
) -> None:
    """Sets the case's stage from where its process is (``open_tasks``: its open user tasks),
    and its status from whether the process waits for the customer (``waiting``) or for a CSR
    (``open``); a process held only at a failed task is at that task's element (an incident)."""
    waits = [] if open_tasks or instance.is_completed else instance.waiting_at()
    failed = [] if open_tasks or waits or instance.is_completed else instance.failed_tasks()
    if instance.is_completed:
        stage, title = CLOSED_STAGE if case.status == transitions.CLOSED else COMPLETED_STAGE
    elif open_tasks:
        first = open_tasks[0]
        stage, title = (first.lane, first.lane) if first.lane else (first.name, first.title)
    elif waits:
        stage, title = waits[0].name, waits[0].title
    elif failed:
        stage, title = failed[0][1], failed[0][2]
    else:
        stage, title = None, None
    if stage != case.stage:
        previous = case.stage
        case.stage, case.stage_title, case.stage_since = stage, title, utcnow()
        events.record(
            session,
            "case.stage_changed",
            case_id=case.id,
            actor=actor,
            data={"from": previous, "to": stage, "title": title},
        )
    if case.status in (transitions.RESOLVED, transitions.CLOSED):
        return
    if any(CUSTOMER_MESSAGE in w.messages for w in waits):
        cases.transition(session, case, transitions.WAITING, actor=actor, data={"stage": stage})
    elif open_tasks and case.status == transitions.WAITING:
        cases.transition(session, case, transitions.OPEN, actor=actor, data={"stage": stage})


def _act(session: Session, case: Case, instance: ProcessInstance, action: Action) -> bool:
    """Applies ``action`` to a loaded instance; False when it finds nothing to act on."""
    if isinstance(action, CompleteTask):
        _complete_task(session, case, instance, action)
        return True
    if isinstance(action, FireTimer):
        if action.task_id not in {task_id for task_id, _ in instance.waiting_timers()}:
            return False  # the task it guarded was completed or the process moved past it
        instance.refresh_timers()
        return True
    if isinstance(action, Message):
        return instance.send_message(action.name, action.payload)
    if isinstance(action, End):
        if instance.is_completed:
            return False  # it ended already: nothing to cancel
        instance.cancel()
        return True
    raise TypeError(f"unknown action {action!r}")


def _complete_task(session: Session, case: Case, instance: ProcessInstance, action: CompleteTask) -> None:
    task = tasks.get(session, action.task_id)
    session.refresh(task)  # read under the instance lock: a racing completion shows here
    if task.case_id != case.id:
        raise NotFound("task", f"{action.task_id} of case {case.id}")
    tasks.check_can_complete(task, case, action.who)
    tasks.check_not_written_by_another(task, action.who)
    tasks.validate_form(task.form, action.data)
    instance.complete_user_task(task.id, action.data, actor=action.actor)
    tasks.set_status(session, task, COMPLETED, actor=action.actor, data=action.data)
    _apply_task_outcome(session, case, task.name, action.data, actor=action.actor, canned=action.canned)


def _apply_task_outcome(
    session: Session,
    case: Case,
    task_name: str,
    data: dict[str, Any],
    *,
    actor: str,
    canned: dict[str, str] | None = None,
) -> None:
    """What a completed task decides about the case itself (triage's priority and topic,
    a reply counting as the first response)."""
    if task_name == "triage":
        cases.update_fields(
            session, case, {"priority": data.get("priority"), "topic": data.get("topic")}, actor=actor
        )
    if task_name == "respond" and data.get("reply"):
        _queue_reply(session, case, data["reply"], actor=actor, canned=canned)


def _queue_reply(
    session: Session, case: Case, text: str, *, actor: str, canned: dict[str, str] | None = None
) -> None:
    """The reply goes to the channel of the customer's latest message, in reply to it; it is
    sent after the commit (engine/delivery/replies.py). The first-response clock stops here, at
    the CSR's reply, as Zendesk counts the agent's public reply: the team answered, and how long
    the channel takes is the adapter's, shown by ``reply.sent`` or ``reply.failed``."""
    latest = session.execute(
        select(Signal.source, Signal.external_id)
        .where(Signal.case_id == case.id)
        .order_by(Signal.received_at.desc(), Signal.id.desc())
        .limit(1)
    ).first()
    channel, in_reply_to = (latest[0], latest[1]) if latest is not None else ("unknown", None)
    replies.queue(
        session,
        case_id=case.id,
        channel=channel,
        in_reply_to=in_reply_to,
        text=text,
        actor=actor,
        canned=canned,
    )
    clocks.replied(session, case)


def _resolution(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("action") == "dismiss":
        return {"code": "dismissed", "as": data.get("dismiss_as"), "reason": data.get("reason")}
    return {"code": data.get("resolution_code") or "completed", "note": data.get("note")}
