"""Limits of the script sandbox and the work budget every script and expression runs under."""

from __future__ import annotations

import threading
import time
from typing import Any

MAX_SEQUENCE = 100_000  # longest str/list/tuple a single operation may build
MAX_RANGE = 100_000
MAX_INT_BITS = 4_096
MAX_DATA_NODES = 50_000  # values a script may leave in task data
MAX_DATA_CHARS = 1_000_000


class Refusal(BaseException):
    """The sandbox refused an operation; ``what`` says which (no data)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


# --- budget -------------------------------------------------------------------------------------
#
# Work is counted by ticks the policy compiles into the script: one per loop iteration (every
# ``for`` and comprehension iterates through ``_getiter_``), per ``while`` pass and per call of a
# function or lambda the script defines. ``sys.settrace`` line events were not enough: a one-line
# loop (``while True: pass``, a comprehension) emits no line event per iteration on 3.11.


class _Budget(threading.local):
    steps_left: int = 0
    deadline: float = 0.0
    limit: int = 0
    seconds: float = 0.0
    active: bool = False


_BUDGET = _Budget()


def _tick(value: Any = None) -> Any:
    budget = _BUDGET
    budget.steps_left -= 1
    if budget.steps_left < 0:
        raise Refusal(f"the step budget ({budget.limit} steps) was used up")
    if time.perf_counter() > budget.deadline:
        raise Refusal(f"the time budget ({budget.seconds}s) was used up")
    return value


def _counted_iter(iterable: Any) -> Any:
    for item in iterable:
        _tick()
        yield item


def run_budgeted(code: Any, namespace: dict[str, Any], mode: str, steps: int, seconds: float) -> Any:
    """Run compiled ``code`` in ``namespace`` under a budget of ``steps`` ticks and ``seconds``.

    Only sandbox processes run script code (see sandbox_main.py); the limits come from their
    command line, so this module needs no settings (and a sandbox process stays small)."""
    budget = _BUDGET
    if budget.active:  # nested call (a helper evaluating more script): share the outer budget
        return eval(code, namespace) if mode == "eval" else exec(code, namespace)
    budget.limit = budget.steps_left = steps
    budget.seconds = seconds
    budget.deadline = time.perf_counter() + seconds
    budget.active = True
    try:
        if mode == "eval":
            return eval(code, namespace)  # compiled by RestrictedPython above
        exec(code, namespace)  # compiled by RestrictedPython above
        return None
    finally:
        budget.active = False
