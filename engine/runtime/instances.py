"""Compiled processes and the instances that run them.

A :class:`CompiledProcess` is parsed once per definition version and shared; a
:class:`ProcessInstance` wraps one SpiffWorkflow workflow and is used for one unit of work:
load (``restore``), act (complete a task, send a message, refresh timers), ``dump``, save.
If an action raises, the stored state is untouched: discard the instance object and reload.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as BpmnMessage
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import StandardLoopTask
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.task import Task, TaskState

from engine.errors import ProcessError
from engine.runtime.engine import ENGINE
from engine.runtime.errors import (
    DefinitionInvalid,
    IncidentNotOpen,
    MigrationRefused,
    ProcessStalled,
    TaskNotOpen,
)
from engine.runtime.parser import Problem, read_definition_xml, specs, validate_bpmn
from engine.runtime.serializer import SERIALIZER, dump_workflow, restore_workflow


@dataclass(frozen=True)
class UserTaskView:
    """An open (READY) user or manual task as the application sees it."""

    id: str
    name: str
    title: str
    form: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    lane: str | None = None


@dataclass(frozen=True)
class WaitView:
    """An event the process waits at on its own path (an intermediate catch event or an
    event-based gateway; not an event subprocess's start or a boundary event), with the names
    of the messages it catches."""

    id: str
    name: str
    title: str
    messages: tuple[str, ...]


@dataclass(frozen=True)
class FailureView:
    """A task the process failed at: held in SpiffWorkflow's ERROR state until it is retried.

    ``error`` is the error's code name and ``message`` what it says (never task data)."""

    task_id: str
    element_id: str
    title: str
    error: str
    message: str


#: Failures one action may hold before the instance gives up stepping (each is an incident).
MAX_FAILURES_PER_ACTION = 20


@dataclass(frozen=True)
class Blocker:
    """Why an instance cannot move to another version: the element, a code, in words."""

    element_id: str
    reason: str
    detail: str


class CompiledProcess:
    """One parsed process version: the spec objects every instance of that version shares."""

    def __init__(self, key: str, spec: Any, subprocess_specs: dict[str, Any], forms: dict[str, dict]) -> None:
        self.key = key
        self.spec = spec
        self.subprocess_specs = subprocess_specs
        self.forms = forms
        for process_spec in [spec, *subprocess_specs.values()]:
            if process_spec is not None:
                _wire_lazy_connections(process_spec)
                _guard_completion_condition(process_spec)

    def start(self, data: dict | None = None) -> ProcessInstance:
        """A new instance, run to its first wait state; ``data`` seeds the first task's data."""
        workflow = BpmnWorkflow(self.spec, self.subprocess_specs, script_engine=ENGINE)
        if data:
            workflow.task_tree.data.update(data)
        instance = ProcessInstance(self, workflow)
        instance.advance()
        return instance

    def restore(self, state: dict) -> ProcessInstance:
        """The instance saved by :meth:`ProcessInstance.dump`, with the restricted engine attached."""
        workflow = restore_workflow(state, self.spec, self.subprocess_specs)
        _cancel_unasked_event_subprocesses(workflow)
        return ProcessInstance(self, workflow)

    def adopt(self, instance: ProcessInstance) -> ProcessInstance:
        """``instance`` (of another version of this process) moved onto this version, as it is:
        every task keeps its id, state and data and now runs this version's element of the same
        id (a fixed script, a changed condition). Refused when an element any of its tasks ran
        or waits at is gone from this version: nothing is changed then."""
        state = instance.dump()
        used = {task["task_spec"] for task in state["tasks"].values()}
        missing = sorted(used - set(self.spec.task_specs))
        if not missing:
            try:
                return self.restore(state)
            except KeyError as err:  # an element of a subprocess is gone
                missing = [str(err.args[0]) if err.args else "?"]
        raise MigrationRefused(self.key, missing)

    def migration_blockers(self, instance: ProcessInstance) -> list[Blocker]:
        """Why ``instance`` cannot move onto this version with :meth:`migrate` (none: it can),
        from SpiffWorkflow's ``diff_workflow``: a task waiting at, or already run through, an
        element this version does not have (a task only predicted there is re-predicted)."""
        top, subs = diff_workflow(SERIALIZER.registry, instance.workflow, self.spec, self.subprocess_specs)
        blockers: list[Blocker] = []
        diffs = [(None, top)] + [(sp_id, d) for sp_id, d in subs.items()]
        for sp_id, found in diffs:
            if found is None:
                name = instance.workflow.subprocesses[sp_id].spec.name
                blockers.append(
                    Blocker(name, "subprocess_removed", "runs a subprocess this version does not have")
                )
                continue
            for task in found.removed:
                element = _element_id(task)
                if task.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR):
                    blockers.append(
                        Blocker(element, "waits_at_removed", "waits at an element this version does not have")
                    )
                elif task.state & TaskState.FINISHED_MASK:
                    blockers.append(
                        Blocker(element, "ran_removed", "ran an element this version does not have")
                    )
            for task in found.changed:
                live = task.state & (
                    TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
                )
                if live and type(found.alignment.get(task)) is not type(task.task_spec):
                    blockers.append(
                        Blocker(
                            _element_id(task),
                            "waits_at_changed_type",
                            "waits at an element of another type now",
                        )
                    )
        unique = {(b.element_id, b.reason): b for b in blockers}
        return sorted(unique.values(), key=lambda b: (b.reason, b.element_id))

    def migrate(self, instance: ProcessInstance) -> ProcessInstance:
        """``instance`` moved onto this version with SpiffWorkflow's ``migrate_workflow``: its
        tasks take this version's elements of the same ids and what waits is re-predicted, so an
        element removed or added ahead of where it stands is fine. Refused (nothing changed) for
        the :meth:`migration_blockers`."""
        blockers = self.migration_blockers(instance)
        if blockers:
            raise MigrationRefused(self.key, [b.element_id for b in blockers])
        state = instance.dump()
        moving = self.restore_foreign(state, instance)
        top, subs = diff_workflow(SERIALIZER.registry, moving, self.spec, self.subprocess_specs)
        migrate_workflow(top, moving, self.spec)
        for sp_id, found in subs.items():
            sub = moving.subprocesses[sp_id]
            if found is not None:
                migrate_workflow(found, sub, self.subprocess_specs[sub.spec.name])
        moved = ProcessInstance(self, moving)
        try:
            return self.restore(moved.dump())  # it is stored and read back in exactly this form
        except KeyError as err:
            raise MigrationRefused(self.key, [str(err.args[0]) if err.args else "?"]) from err

    def restore_foreign(self, state: dict, instance: ProcessInstance) -> BpmnWorkflow:
        """A copy of ``instance``'s workflow (of its own version) to migrate, so a refusal
        leaves the original untouched."""
        return restore_workflow(state, instance.workflow.spec, dict(instance.compiled.subprocess_specs))


def compile_process(xml: bytes, called: Mapping[str, bytes] | None = None) -> CompiledProcess:
    """Validate and parse a BPMN definition once; callers cache the result by (key, version)
    and the versions of the processes it calls (``called``: key -> XML of the pinned version)."""
    lookup = dict(called or {})
    parsed, problems, parser = validate_bpmn(read_definition_xml(xml), resolve=lookup.get)
    if parsed is not None and parsed.missing_calls:
        problems += [
            Problem(None, None, f"The called process {k!r} is not deployed.") for k in parsed.missing_calls
        ]
    if problems or parsed is None or parser is None:
        raise DefinitionInvalid(problems)
    spec, subprocess_specs = specs(parser, parsed.key, collaboration=parsed.collaboration)
    return CompiledProcess(parsed.key, spec, subprocess_specs, parsed.forms)


def _wire_lazy_connections(process_spec: Any) -> None:
    """Makes at compile time the connections SpiffWorkflow 3.2.0 makes on the spec at run time,
    the first time it needs them, so a shared spec never changes under the instances using it.

    ``BpmnStartTask.trigger_wf`` connects Start -> the event subprocess -> the end on the spec
    object, lazily. That spec is shared by every instance of the version in the process
    (:class:`CompiledProcess`), so after one case's first breach every case started later in
    the same worker started its ``sla_escalation`` at once (an output of Start), which kept
    its process from ever ending; and a state saved that way failed in a fresh worker, where
    the spec had no input yet ("No input task connected", an SLA timer failing for good).
    Here the event subprocess gets Start as its input and the end as its output, but Start
    does not get it as an output: it is only ever started by its event, in every process.
    An ad-hoc subprocess's conditional tasks (loops, inclusive choices) get Start as input the
    same way: its ``add_path`` connects Start -> the task when it first starts one."""
    start = process_spec.start
    for name in getattr(start, "trigger_specs", ()):
        task_spec = process_spec.task_specs.get(name)
        if task_spec is None:
            continue
        if start not in task_spec.inputs:
            task_spec._connect_notify(start)
        if process_spec.end not in task_spec.outputs:
            task_spec.connect(process_spec.end)
    for task_spec in getattr(process_spec, "conditional_paths", ()):
        if start not in task_spec.inputs:
            task_spec._connect_notify(start)


COMPLETION_FAILED = "sift_completion_failed"  # internal data of a task held by its ad-hoc completion


def _guard_completion_condition(process_spec: Any) -> None:
    """An ad-hoc subprocess's completion condition that fails (a name no data holds, a bad
    comparison) holds the task whose completion evaluated it, as an incident to retry.

    SpiffWorkflow 3.2.0 evaluates it in ``AdHocSubprocessSpec.path_complete``, an event handler
    of the subprocess's Start and of its last tasks, through the environment directly, so the
    error left the engine bare, naming no task: a case could not open, or a CSR completing a
    task got an internal error. Here the handler is swapped for one that names the task."""
    condition = getattr(process_spec, "completion_condition", None)
    handler = getattr(process_spec, "path_complete", None)
    if condition is None or handler is None:
        return

    def guarded(workflow: Any, task: Task) -> None:
        try:
            handler(workflow, task)
        except WorkflowException:
            raise
        except Exception as err:
            task.internal_data[COMPLETION_FAILED] = True  # retry completes it again (ProcessInstance.retry)
            raise WorkflowTaskException(
                f"the ad-hoc subprocess {process_spec.name!r} could not go on after this task: "
                f"its completion condition {condition!r} raised {type(err).__name__}: {err}",
                task=task,
                exception=err,
            ) from err

    for task_spec in process_spec.task_specs.values():
        event = task_spec.completed_event
        if event.is_connected(handler):
            event.disconnect(handler)
            event.connect(guarded)  # once: the handler it replaces is no longer connected


def _cancel_unasked_event_subprocesses(workflow: BpmnWorkflow) -> None:
    """Cancels what a state saved before :func:`_wire_lazy_connections` may hold: an event
    subprocess Start began with the case (not by its event), still waiting for that event,
    which keeps the process from ending. Its event, when it comes, starts one as it should."""
    triggers = set(getattr(workflow.spec.start, "trigger_specs", ()))
    if not triggers:
        return
    for task in list(workflow.task_tree.children):  # the tree's root is the Start task
        if task.task_spec.name not in triggers or task.triggered or task.state != TaskState.STARTED:
            continue
        subprocess = workflow.subprocesses.get(task.id)
        waiting = subprocess.get_next_task(state=TaskState.WAITING) if subprocess else None
        if waiting is not None and isinstance(waiting.task_spec, StartEvent):
            task.cancel()


def _all_tasks(workflow: BpmnWorkflow) -> list[Task]:
    tasks = list(workflow.tasks.values())
    for subprocess in workflow.subprocesses.values():
        tasks.extend(subprocess.tasks.values())
    return tasks


def _element_id(task: Task) -> str:
    return task.task_spec.bpmn_id or task.task_spec.name


class ProcessInstance:
    """One running process; every method that changes it runs engine steps to the next wait state."""

    def __init__(self, compiled: CompiledProcess, workflow: BpmnWorkflow) -> None:
        self.compiled = compiled
        self.workflow = workflow
        #: the failures this object's actions ran into (each now an ERROR task of the instance)
        self.failures: list[FailureView] = []

    # --- reading ---------------------------------------------------------------------------

    @property
    def is_completed(self) -> bool:
        return bool(self.workflow.completed)

    @property
    def data(self) -> dict:
        """Data of the most recently completed task (where BPMN data flows), else the workflow's."""
        last = self.workflow.last_task
        return last.data if last is not None else self.workflow.data

    def open_user_tasks(self) -> list[UserTaskView]:
        """READY user/manual tasks, found by scanning every task (no depth limit)."""
        return [
            self._view(t)
            for t in _all_tasks(self.workflow)
            if t.state == TaskState.READY and t.task_spec.manual
        ]

    def _view(self, task: Task) -> UserTaskView:
        spec = task.task_spec
        element = _element_id(task)
        return UserTaskView(
            id=str(task.id),
            name=element,
            title=spec.bpmn_name or element,
            form=self.compiled.forms.get(element, {}),
            data=dict(task.data),
            lane=spec.lane,
        )

    def failed_tasks(self) -> list[tuple[str, str, str]]:
        """(task id, element id, title) of every task held in ERROR: the instance's open incidents."""
        return [
            (str(t.id), _element_id(t), t.task_spec.bpmn_name or _element_id(t))
            for t in _all_tasks(self.workflow)
            if t.state == TaskState.ERROR
        ]

    def element_states(self) -> dict[str, list[str]]:
        """Element ids by what happened to them: ``completed``, ``active`` (ready, started or
        waiting: where the process is now) and ``failed``; each id once, in element order."""
        found: dict[str, dict[str, None]] = {"completed": {}, "active": {}, "failed": {}}
        for task in _all_tasks(self.workflow):
            if not task.task_spec.bpmn_id:
                continue  # SpiffWorkflow's own bookkeeping tasks are not on the diagram
            if task.state == TaskState.COMPLETED:
                found["completed"][task.task_spec.bpmn_id] = None
            elif task.state in (TaskState.READY, TaskState.STARTED, TaskState.WAITING):
                found["active"][task.task_spec.bpmn_id] = None
            elif task.state == TaskState.ERROR:
                found["failed"][task.task_spec.bpmn_id] = None
        return {kind: sorted(ids) for kind, ids in found.items()}

    def waiting_at(self) -> list[WaitView]:
        """The events the process itself waits at (see :class:`WaitView`)."""
        found = []
        for task in self.workflow.event_manager.tasks.values():
            spec = task.task_spec
            if isinstance(spec, StartEvent | BoundaryEvent):
                continue
            definition = spec.event_definition
            parts = getattr(definition, "event_definitions", [definition])
            messages = tuple(d.name for d in parts if isinstance(d, BpmnMessage))
            element = _element_id(task)
            found.append(WaitView(str(task.id), element, spec.bpmn_name or element, messages))
        return sorted(found, key=lambda w: w.name)

    def waiting_timers(self) -> list[tuple[str, datetime]]:
        """(task id, due time in UTC) for every timer this instance waits on."""
        due = []
        for task in self.workflow.event_manager.tasks.values():
            definition = task.task_spec.event_definition
            # an event-based gateway waits on a MultipleEventDefinition holding its timer
            timers = [d for d in getattr(definition, "event_definitions", [definition])]
            for timer in timers:
                if not isinstance(timer, TimerEventDefinition):
                    continue
                value = timer.details(task).value
                if isinstance(value, str):
                    moment = datetime.fromisoformat(value)
                    due.append((str(task.id), moment if moment.tzinfo else moment.replace(tzinfo=UTC)))
                    break
        return due

    @property
    def thrown_events(self) -> list[dict]:
        """Events thrown that nothing in this instance caught (not drained; see take_thrown_events)."""
        return [_event_dict(e) for e in self.workflow.bpmn_events]

    def take_thrown_events(self) -> list[dict]:
        """Drain the uncaught events for the application to route; the dump no longer holds them."""
        return [_event_dict(e) for e in self.workflow.get_events()]

    def dump(self) -> dict:
        return dump_workflow(self.workflow)

    # --- acting ----------------------------------------------------------------------------

    def complete_user_task(self, task_id: str, data: dict, actor: str | None = None) -> None:
        """Merge ``data`` into the open task, complete it and advance. The caller validates the form."""
        task = self._open_task(task_id)
        task.data.update(data)
        if actor is not None:
            task._set_internal_data(completed_by=actor)
        self._held(task.run)
        self.advance()

    def _open_task(self, task_id: str) -> Task:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, TypeError, KeyError):
            task = None
        except Exception:  # 3.2.0 raises its TaskNotFoundException for unknown ids
            task = None
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise TaskNotOpen(task_id)
        return task

    def send_message(self, name: str, payload: dict) -> bool:
        """Deliver BPMN message ``name``; False (and no change) if nothing in the instance waits for it."""
        event = BpmnEvent(MessageEventDefinition(name), payload=payload)
        caught: list[Any] = []
        self._held(lambda: caught.append(self.workflow.event_manager.catch(event, internal=False)))
        if caught and caught[0]:
            self.advance()
        return bool(caught and caught[0]) or bool(self.failures)

    def cancel(self) -> None:
        """End the instance where it stands: every unfinished task (open user tasks, timers,
        message waits, subprocesses) is cancelled and the instance is completed, unsuccessfully."""
        self.workflow.cancel()

    def refresh_timers(self) -> None:
        """Fire the timers that are due, then advance."""
        self._held(self.workflow.refresh_timers)
        self.advance()

    def retry(self, task_id: str, data: dict | None = None) -> None:
        """Runs a failed task again, with ``data`` merged into what it reads, and advances.

        The task is brought back as its predecessor left it (FUTURE, then updated: its data
        inherited, a pre-script or timer expression evaluated again), so a failure in a
        script, a gateway's conditions, a service call or an event's expression is retried
        the same way; the tasks beside it that its failure kept from being updated are
        updated too. A new failure holds it again (see :attr:`failures`)."""
        task = self._failed_task(task_id)
        if task is None:
            raise IncidentNotOpen(task_id)
        if data:
            task.data.update(data)
            if task.parent is not None:
                task.parent.data.update(data)
        if task.internal_data.pop(COMPLETION_FAILED, False):
            # it had finished; its ad-hoc subprocess's completion condition failed: the
            # completion is what runs again (running the task again would reopen a user task,
            # and SpiffWorkflow 3.2.0 then loops for ever looking for the subprocess's next task)
            self._held(task.complete)
            self.advance()
            return
        task._set_state(TaskState.FUTURE)
        siblings = task.parent.children if task.parent is not None else [task]
        for sibling in [task, *[t for t in siblings if t is not task]]:
            if sibling is task or sibling.has_state(TaskState.PREDICTED_MASK | TaskState.FUTURE):
                self._held(lambda t=sibling: t.task_spec._update(t))
        self.advance()

    def _failed_task(self, task_id: str) -> Task | None:
        try:
            task = self.workflow.get_task_from_id(UUID(task_id))
        except Exception:  # a malformed id, or 3.2.0's TaskNotFoundException
            return None
        return task if task is not None and task.state == TaskState.ERROR else None

    def advance(self) -> None:
        """Run engine steps to the next wait state; a task that fails there is held as a
        failure (an incident) and the rest of the process goes on. Raises ProcessStalled if
        work is left that the engine will not do."""
        for _ in range(MAX_FAILURES_PER_ACTION):
            if self._held(self.workflow.do_engine_steps):
                break
        self._prune_finished_iterations()
        self._check_stalled()

    def _held(self, step: Any) -> bool:
        """Runs ``step``; True if it finished, False if a task failed and is now held in ERROR.

        Errors that name no task of this instance (a stall, a broken model) are raised."""
        try:
            step()
        except (ProcessError, WorkflowTaskException) as err:
            task = self._task_of(err)
            if task is None:
                raise
            self._hold(task, err)
            return False
        return True

    def _task_of(self, err: Exception) -> Task | None:
        if isinstance(err, WorkflowTaskException):
            task = err.task
        else:
            task_id = getattr(err, "task_id", None)
            try:
                task = self.workflow.get_task_from_id(UUID(task_id)) if task_id else None
            except Exception:
                task = None
        return task if task is not None and task.workflow.top_workflow is self.workflow else None

    def _hold(self, task: Task, err: Exception) -> None:
        if isinstance(err, ProcessError):
            code, message = err.code, err.detail
        else:
            code, message = "WorkflowError", f"SpiffWorkflow stopped at element {_element_id(task)!r}: {err}"
        task._set_state(TaskState.ERROR)
        title = task.task_spec.bpmn_name or _element_id(task)
        self.failures.append(FailureView(str(task.id), _element_id(task), title, code, message[:2000]))

    def _prune_finished_iterations(self) -> None:
        """Drops the finished iterations of standard loops (and their subprocesses).

        SpiffWorkflow adds each iteration of a standard loop as a new child of the loop task and
        keeps it, with a copy of the data in every one of its tasks, after merging its data into
        the loop task: a 300-turn conversation held 1.8 MB of state and took 88 s to run (each
        turn loads and saves all earlier turns). Once merged, nothing reads an iteration again
        (the loop counts ``merged`` ids, which stay), so it goes; the tree keeps the depth and
        size of one turn."""
        workflow = self.workflow
        for loop in [t for t in workflow.tasks.values() if isinstance(t.task_spec, StandardLoopTask)]:
            merged = set(loop.internal_data.get("merged", []))
            finished = [
                c for c in loop.children if str(c.id) in merged and c.has_state(TaskState.FINISHED_MASK)
            ]
            for child in finished:
                if child.children:  # an iteration ends in its loop; one with a tail of its own stays
                    continue
                if child.id in workflow.subprocesses:
                    workflow.delete_subprocess(child)
                workflow.tasks.pop(child.id, None)
                loop._children.remove(child.id)
                if workflow.last_task is child:
                    workflow.last_task = loop

    def _check_stalled(self) -> None:
        if self.workflow.completed:
            return
        stuck, waiting = [], False
        for task in _all_tasks(self.workflow):
            if task.state == TaskState.READY and not task.task_spec.manual:
                stuck.append(_element_id(task))
            elif task.state in (TaskState.READY, TaskState.WAITING, TaskState.STARTED, TaskState.ERROR):
                waiting = True  # an ERROR task waits for its incident's retry
        if stuck or not waiting:
            raise ProcessStalled(self.compiled.key, stuck)


def _event_dict(event: BpmnEvent) -> dict:
    return {"name": event.event_definition.name, "payload": event.payload}
