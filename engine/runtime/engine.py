"""SpiffWorkflow's script engine, rebuilt on the sandbox in :mod:`engine.runtime.scripts`.

:class:`RestrictedEnvironment` replaces ``exec``/``eval`` for every script, condition, timer
and DMN expression; :class:`SiftScriptEngine` turns sandbox verdicts into Sift errors that name
the BPMN element, and dispatches service tasks to the registry (3.2.0's own ``call_service``
error path raises ``NameError``). One engine instance is shared: it holds no per-run state.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from engine.errors import EngineError
from engine.runtime import scripts
from engine.runtime.errors import ScriptFailed, ScriptRefused, ServiceFailed
from engine.runtime.services import get_service


class RestrictedEnvironment(TaskDataEnvironment):
    """Evaluates and executes with RestrictedPython under a budget; task data in, plain data out."""

    def __init__(self) -> None:
        super().__init__({})

    def evaluate(self, expression: str, context: dict, external_context: dict | None = None) -> Any:
        code = scripts.compile_source(expression, "eval")
        namespace = dict(scripts.BASE_GLOBALS)
        namespace.update(external_context or {})
        namespace.update(context)
        namespace.update(scripts.GUARDS)
        return scripts.run_budgeted(code, namespace, "eval")

    def execute(self, script: str, context: dict, external_context: dict | None = None) -> bool:
        code = scripts.compile_source(script, "exec")
        external = external_context or {}
        namespace = dict(scripts.BASE_GLOBALS)
        namespace.update(external)
        namespace.update(context)
        namespace.update(scripts.GUARDS)
        scripts.run_budgeted(code, namespace, "exec")
        result = {}
        for name, value in namespace.items():
            if name in scripts.RESERVED and value is scripts.BASE_GLOBALS[name]:
                continue
            if (name in external and value is external[name]) or name.startswith("_") or callable(value):
                continue
            scripts.check_plain(name, value)
            result[name] = value
        # scripts cannot name ``_`` variables, so such data keys pass through untouched
        result.update({k: v for k, v in context.items() if k.startswith("_")})
        context.clear()
        context.update(result)
        return True

    def call_service(self, context: dict, **kwargs: Any) -> Any:
        raise NotImplementedError("SiftScriptEngine.call_service dispatches services")


def _element_id(task: Any) -> str | None:
    spec = getattr(task, "task_spec", None)
    return getattr(spec, "bpmn_id", None) or getattr(spec, "name", None)


def _script_line(err: BaseException) -> int | None:
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if frame.filename == "<script>":
            return frame.lineno
    return None


def _describe(err: Exception) -> str:
    if isinstance(err, NameError):
        return f"NameError ({err})"
    return type(err).__name__


class SiftScriptEngine(PythonScriptEngine):
    """PythonScriptEngine whose errors are Sift errors naming the element; never unrestricted."""

    def __init__(self) -> None:
        super().__init__(environment=RestrictedEnvironment())

    def validate(self, expression: str) -> None:
        scripts.compile_source(expression, "eval")

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
            raise ScriptRefused(_element_id(task), refusal.what) from None
        except EngineError:
            raise
        except Exception as err:
            raise ScriptFailed(_element_id(task), _describe(err), _script_line(err)) from None

    def call_service(self, task: Any, operation_name: str, operation_params: dict, **_: Any) -> str:
        """Call the registered operator; SpiffWorkflow json-loads what we return into the result variable."""
        element = _element_id(task)
        fn = get_service(operation_name)
        if fn is None:
            raise ServiceFailed(element, operation_name, "no such operator is registered")
        params = {name: spec["value"] for name, spec in operation_params.items()}
        try:
            result = fn(**params)
            return json.dumps(result)
        except EngineError:
            raise
        except Exception as err:
            raise ServiceFailed(element, operation_name, type(err).__name__) from None


ENGINE = SiftScriptEngine()
