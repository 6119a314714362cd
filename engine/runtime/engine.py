"""SpiffWorkflow's script engine, rebuilt on Sift's sandbox.

:class:`RestrictedEnvironment` replaces ``exec``/``eval``: script tasks (and pre/post scripts)
run in a sandbox process under OS limits (pool.py, scripts.py); conditions, timer expressions,
service parameters and message payloads are evaluated in-process by the bounded expression
evaluator (expressions.py). :class:`SiftScriptEngine` turns sandbox verdicts into Sift errors that
name the BPMN element, and dispatches service tasks to the registry in-process (3.2.0's own
``call_service`` error path raises ``NameError``). One engine instance is shared: it holds no
per-run state.
"""

from __future__ import annotations

import json
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.errors import EngineError
from engine.runtime import expressions, scripts
from engine.runtime.errors import ScriptFailed, ScriptRefused, ServiceFailed
from engine.runtime.pool import Outcome, get_pool
from engine.runtime.services import get_service


class RestrictedEnvironment(TaskDataEnvironment):
    """Expressions in-process with the bounded evaluator; scripts in a sandbox process."""

    def __init__(self) -> None:
        super().__init__({})

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        names = {**external_context, **context} if external_context else context
        return expressions.compile_expression(expression).evaluate(names)

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        scripts.compile_source(script, "exec")  # refused here without starting a process
        outcome = get_pool().run(script, context, external_context or {})
        if outcome.kind != "ok" or outcome.data is None:
            raise _Failed(outcome)
        result = outcome.data
        # scripts cannot name ``_`` variables, so such data keys pass through untouched
        result.update({k: v for k, v in context.items() if k.startswith("_")})
        context.clear()
        context.update(result)
        return True

    def call_service(self, context: dict, **kwargs: Any) -> Any:
        raise NotImplementedError("SiftScriptEngine.call_service dispatches services")


class _Failed(Exception):
    """A script's outcome from its sandbox process that is not success; mapped to a Sift error."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.kind)
        self.outcome = outcome


def _element_id(task: Any) -> str | None:
    spec = getattr(task, "task_spec", None)
    return getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)


def _sift_error(element: str | None, outcome: Outcome) -> EngineError:
    if outcome.kind in ("refused", "bound"):
        return ScriptRefused(element, outcome.what)
    if outcome.kind == "crashed":
        return ScriptFailed(element, f"no answer: {outcome.what}")
    return ScriptFailed(element, outcome.what, outcome.line)


class SiftScriptEngine(PythonScriptEngine):
    """PythonScriptEngine whose errors are Sift errors naming the element; never unrestricted."""

    def __init__(self) -> None:
        super().__init__(environment=RestrictedEnvironment())

    def validate(self, expression: str) -> None:
        expressions.compile_expression(expression)

    def evaluate(self, task: Any, expression: str, external_context: dict | None = None) -> Any:
        return self._run(task, self.environment.evaluate, expression, external_context)

    def execute(self, task: Any, script: str, external_context: dict | None = None) -> bool:
        return bool(self._run(task, self.environment.execute, script, external_context))

    @staticmethod
    def _run(task: Any, run: Any, source: str, external_context: dict | None) -> Any:
        """Runs sandboxed code for ``task``; a refusal or failure names the element, nothing else."""
        try:
            return run(source, task.data, external_context)
        except scripts.Refusal as refusal:
            raise _at(task, ScriptRefused(_element_id(task), refusal.what)) from None
        except _Failed as failed:
            raise _at(task, _sift_error(_element_id(task), failed.outcome)) from None
        except EngineError as err:
            _at(task, err)
            raise
        except Exception as err:
            raise _at(task, ScriptFailed(_element_id(task), *scripts.describe_error(err))) from None

    def call_service(self, task: Any, operation_name: str, operation_params: dict, **_: Any) -> str:
        """Call the registered operator; SpiffWorkflow json-loads what we return into the result variable."""
        element = _element_id(task)
        fn = get_service(operation_name)
        if fn is None:
            raise _at(task, ServiceFailed(element, operation_name, "no such operator is registered"))
        params = {name: spec["value"] for name, spec in operation_params.items()}
        try:
            result = fn(**params)
            return json.dumps(result)
        except EngineError as err:
            raise _at(task, ServiceFailed(element, operation_name, f"{err.code}: {err.detail}")) from None
        except Exception as err:
            raise _at(task, ServiceFailed(element, operation_name, type(err).__name__)) from None


def _at(task: Any, err: EngineError) -> EngineError:
    """Marks ``err`` with the task it failed at, so the instance can hold that task as an incident."""
    if err.task_id is None and getattr(task, "id", None) is not None:
        err.task_id = str(task.id)
    return err


ENGINE = SiftScriptEngine()
