"""The registry of service operators BPMN service tasks may call.

A BPMN service task names its operator with SpiffWorkflow's extension::

    <bpmn:serviceTask id="notify" name="Notify team">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify_team" resultVariable="notified">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="queue" type="str" value="queue"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>

Parameter ``value`` attributes are sandboxed expressions over task data. The operator is called
as ``fn(**params)``; its result (plain data) is stored in the task's ``resultVariable``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ServiceFn = Callable[..., Any]
_REGISTRY: dict[str, ServiceFn] = {}


def service(name: str) -> Callable[[ServiceFn], ServiceFn]:
    """Register ``fn`` as the operator ``name``; re-registering a name replaces it (tests, reloads)."""

    def register(fn: ServiceFn) -> ServiceFn:
        _REGISTRY[name] = fn
        return fn

    return register


def get_service(name: str) -> ServiceFn | None:
    return _REGISTRY.get(name)


def registered_services() -> frozenset[str]:
    return frozenset(_REGISTRY)


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)
