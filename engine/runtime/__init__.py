"""The only package in Sift that imports SpiffWorkflow: parse, validate, run and store processes."""

from engine.runtime.describe import describe_definition
from engine.runtime.dmn import CompiledDecision, DecisionResult, compile_decision
from engine.runtime.errors import (
    DefinitionInvalid,
    IncidentNotOpen,
    MigrationRefused,
    ProcessStalled,
    ScriptFailed,
    ScriptRefused,
    ServiceFailed,
    StateIncompatible,
    TaskNotOpen,
    UnsafeXml,
)
from engine.runtime.instances import (
    CompiledProcess,
    FailureView,
    ProcessInstance,
    UserTaskView,
    compile_process,
)
from engine.runtime.parser import ParsedDefinition, Problem, parse_definition
from engine.runtime.services import service

__all__ = [
    "CompiledDecision",
    "CompiledProcess",
    "DecisionResult",
    "DefinitionInvalid",
    "FailureView",
    "IncidentNotOpen",
    "MigrationRefused",
    "ParsedDefinition",
    "Problem",
    "ProcessInstance",
    "ProcessStalled",
    "ScriptFailed",
    "ScriptRefused",
    "ServiceFailed",
    "StateIncompatible",
    "TaskNotOpen",
    "UnsafeXml",
    "UserTaskView",
    "compile_decision",
    "compile_process",
    "describe_definition",
    "parse_definition",
    "service",
]
