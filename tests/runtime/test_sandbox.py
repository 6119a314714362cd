"""Hostile scripts end in a clear error under the sandbox's OS limits; hostile expressions are
refused before the C call that would run away; the parent process and the pool carry on."""

import faulthandler
import os
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.runtime import DefinitionInvalid, ScriptFailed, ScriptRefused, compile_decision, parse_definition
from engine.runtime import engine as engine_module
from engine.runtime.budget import Refusal
from engine.runtime.engine import ENGINE
from engine.runtime.expressions import Run, compile_expression
from engine.runtime.pool import Limits, SandboxPool

from .conftest import data_file, process_file
from .hostile_corpus import EXPRESSIONS, SCRIPTS

# a generous step time, so that the OS limits (not the step budget) meet the memory and CPU cases
LIMITS = Limits(memory_mb=256, cpu_seconds=1, wall_seconds=10.0, steps=100_000, step_seconds=5.0)
DATA = {"a": "x" * 100_000, "items": list(range(10))}


class RecordingPool(SandboxPool):
    """The pool, keeping every outcome so tests can read what the sandbox measured."""

    def __init__(self) -> None:
        super().__init__(2, LIMITS)
        self.outcomes: list = []

    def run(self, script, context, external):
        outcome = super().run(script, context, external)
        self.outcomes.append(outcome)
        return outcome


@pytest.fixture(scope="module")
def pool():
    pool = RecordingPool()
    yield pool
    pool.close()


@pytest.fixture
def sandboxed(pool, monkeypatch):
    """ENGINE runs scripts in the test pool; a test that hangs is killed, not waited for."""
    monkeypatch.setattr(engine_module, "get_pool", lambda: pool)
    faulthandler.dump_traceback_later(120, exit=True)
    yield pool
    faulthandler.cancel_dump_traceback_later()


def task(data: dict | None = None, element: str = "hostile") -> SimpleNamespace:
    return SimpleNamespace(task_spec=SimpleNamespace(bpmn_id=element, name=element), data=data or {})


def texts(what) -> tuple:
    return what if isinstance(what, tuple) else (what,)


def run_script_case(source: str, kind: str, what) -> None:
    data = {"keep": 1}
    expected = ScriptFailed if kind == "failed" else ScriptRefused
    with pytest.raises(expected) as caught:
        ENGINE.execute(task(data), source)
    error = caught.value
    assert error.element_id == "hostile"
    assert "hostile" in error.detail
    if kind == "memory":
        assert "the memory limit (256 MB) was exceeded" in error.what
    else:
        assert any(t in error.detail for t in texts(what)), error.detail
    assert data == {"keep": 1}, "a script that fails changes no task data"


@pytest.mark.parametrize(("source", "kind", "what"), [c[1:] for c in SCRIPTS], ids=[c[0] for c in SCRIPTS])
def test_hostile_script_fails_with_a_clear_error_within_the_limits(sandboxed, source, kind, what):
    ran = len(sandboxed.outcomes)
    run_script_case(source, kind, what)
    if len(sandboxed.outcomes) == ran:  # refused before it reached the pool (e.g. too deeply nested)
        assert kind == "refused"
        return
    outcome = sandboxed.outcomes[-1]
    assert outcome.wall_seconds <= LIMITS.wall_seconds + 1.0, "the wall-clock kill bounds every script"
    if kind == "cpu" and outcome.cpu_seconds is not None:  # answered before its CPU limit
        assert outcome.cpu_seconds <= LIMITS.cpu_seconds + 1.0


@pytest.mark.parametrize(("source", "what"), [c[1:] for c in EXPRESSIONS], ids=[c[0] for c in EXPRESSIONS])
def test_hostile_expression_is_refused_before_it_runs_away(source, what):
    faulthandler.dump_traceback_later(120, exit=True)
    try:
        # a time budget far above the guard's cost (milliseconds) and far below the work's (minutes):
        # on a loaded machine a 0.5 s budget ran out before the guard's own refusal was reached
        run = Run(100_000, 5.0)
        with pytest.raises((ScriptRefused, ScriptFailed)) as caught:
            ENGINE.evaluate(task(dict(DATA), "flow_hostile"), source)
        assert caught.value.element_id == "flow_hostile"
        # the engine's own 0.5 s budget may run out first on a loaded machine: a bound all the same
        detail = caught.value.detail
        assert any(t in detail for t in texts(what)) or "time budget (0.5s)" in detail, detail
        with pytest.raises((Refusal, Exception)) as direct:
            compile_expression(source).evaluate(dict(DATA), run=run)
        # with time to spare, the guard itself must be what refuses
        assert any(t in str(direct.value) for t in texts(what)), direct.value
        assert run.elapsed < 5.0 + 1.0, "refused by a bound, not after the work was done"
    finally:
        faulthandler.cancel_dump_traceback_later()


def test_isinstance_in_an_expression_takes_a_value_and_a_type_or_a_tuple_of_types():
    assert compile_expression("isinstance(x, str)").evaluate({"x": "a"}) is True
    assert compile_expression("isinstance(x, (int, float))").evaluate({"x": "a"}) is False
    # the list literal needs a budget: evaluate makes one though isinstance() itself needs none
    assert compile_expression("isinstance([x], list)").evaluate({"x": 1}) is True
    for source in (
        "isinstance(x)",
        "isinstance(x, bytes)",
        "isinstance(x, (str, 1))",
        "isinstance(x, str, int)",
    ):
        with pytest.raises(Refusal, match=r"isinstance\(\) takes a value and one of str"):
            compile_expression(source)


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_the_parent_does_not_grow_with_the_corpus(sandboxed):
    ENGINE.execute(task(), "x = 1")  # warm: the first script starts a sandbox process
    for _, source, _what in EXPRESSIONS[:3]:
        with pytest.raises((ScriptRefused, ScriptFailed)):
            ENGINE.evaluate(task(dict(DATA)), source)
    before = rss_bytes()
    for _, source, kind, what in SCRIPTS:
        run_script_case(source, kind, what)
    for _, source, _what in EXPRESSIONS:
        with pytest.raises((ScriptRefused, ScriptFailed)):
            ENGINE.evaluate(task(dict(DATA)), source)
    grown = (rss_bytes() - before) / 2**20
    assert grown < 8, f"the parent grew by {grown:.1f} MB running the hostile corpus"


def alive(pid: int) -> bool:
    """True if ``pid`` is a process that has not been reaped (a zombie counts as alive)."""
    return Path(f"/proc/{pid}").exists()


def test_a_broken_sandbox_process_is_reaped_and_replaced(sandboxed):
    ENGINE.execute(task(), "x = 1")
    before = set(sandboxed.pids)
    with pytest.raises(ScriptRefused) as caught:
        ENGINE.execute(task(), "x = []\nwhile True:\n    x.append('y' * 99990 + str(len(x)))")
    assert "memory limit" in caught.value.what
    gone = before - set(sandboxed.pids)
    assert gone and not any(alive(pid) for pid in gone), "the broken process is reaped, not a zombie"
    data = task({"n": 2})
    ENGINE.execute(data, "m = n * 21")
    assert data.data == {"n": 2, "m": 42}


def test_the_wall_clock_kill_ends_a_process_stuck_past_its_limits():
    pool = SandboxPool(1, Limits(256, cpu_seconds=30, wall_seconds=1.0, steps=10**9, step_seconds=60))
    try:
        outcome = pool.run("x = len(set([i * (2**61 - 1) for i in range(90000)]))", {}, {})
        assert (outcome.kind, outcome.what) == ("bound", "the wall-clock limit (1.0s) was exceeded")
        assert outcome.wall_seconds < 1.0 + 1.0
        assert pool.pids == []
        assert pool.run("y = 1", {}, {}).data == {"y": 1}
    finally:
        pool.close()


def test_a_process_killed_while_idle_is_replaced_before_a_script_needs_it():
    pool = SandboxPool(1, LIMITS)
    try:
        assert pool.run("x = 1", {}, {}).kind == "ok"
        [pid] = pool.pids
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):  # until the kill has landed: the process is a zombie of the pool's
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                break
            time.sleep(0.01)
        outcome = pool.run("y = 2", {}, {})
        assert (outcome.kind, outcome.data) == ("ok", {"y": 2})
        assert pool.pids != [pid] and not alive(pid)
    finally:
        pool.close()


def test_closing_the_pool_ends_every_process():
    pool = SandboxPool(2, LIMITS)
    threads = [threading.Thread(target=pool.run, args=("x = 1", {}, {})) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pids = pool.pids
    assert 1 <= len(pids) <= 2
    pool.close()
    assert not any(alive(pid) for pid in pids)


def test_concurrent_scripts_share_the_pool(sandboxed):
    results: list = []

    def work(n: int) -> None:
        t = task({"n": n})
        ENGINE.execute(t, "m = n * 2")
        results.append(t.data["m"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [n * 2 for n in range(8)]
    assert len(sandboxed.pids) <= 2


def test_a_sandbox_process_is_small(sandboxed):
    ENGINE.execute(task(), "x = 1")
    for pid in sandboxed.pids:
        status = Path(f"/proc/{pid}/status").read_text()
        rss_kb = int(status.split("VmRSS:")[1].split()[0])
        assert rss_kb < 40_000, f"a sandbox process holds {rss_kb} kB"


def test_task_data_that_is_not_plain_is_refused_before_it_crosses(sandboxed):
    import datetime

    with pytest.raises(ScriptFailed) as caught:
        ENGINE.execute(task({"when": datetime.date(2026, 1, 1)}), "x = 1")
    assert "date" in caught.value.detail


HOSTILE_CELL = b"""<?xml version="1.0"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="x">
  <decision id="pick" name="Pick">
    <decisionTable id="t" hitPolicy="FIRST">
      <input id="i"><inputExpression id="ie"><text>text</text></inputExpression></input>
      <output id="o" name="out"/>
      <rule id="r_hostile">
        <inputEntry id="a"><text>-</text></inputEntry>
        <outputEntry id="b"><text>str([text] * 100000)</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>"""


def test_a_hostile_dmn_cell_names_its_rule_and_other_tables_carry_on():
    with pytest.raises(ScriptRefused) as caught:
        compile_decision(HOSTILE_CELL).evaluate({"text": "x" * 1000})
    assert caught.value.element_id == "r_hostile"
    assert "str()" in caught.value.what
    routing = compile_decision(process_file("routing.dmn"))
    context = {
        "intent": "spam",
        "sentiment": "neutral",
        "urgency": "normal",
        "influence": 0.1,
        "source": "twitter",
        "value_tier": "standard",
        "complaint_score": 0.0,
        "language": "en",
        "topics": [],
    }
    assert routing.evaluate(context).rule_id == "rule_spam"


@pytest.mark.parametrize(
    "expression",
    [
        "&quot;PT%dH&quot; % 1 + &quot;x&quot; * 10**9",
        "'%(k)10000000d' % {'k': 1}",
        "str([&quot;x&quot; * 99999] * 99999)",
    ],
)
def test_a_hostile_timer_expression_is_refused_at_upload(expression):
    """Timers are evaluated at upload, inside the API process: refused, never run."""
    xml = data_file("hostile_timer.bpmn").replace(b"EXPRESSION", expression.encode())
    with pytest.raises(DefinitionInvalid) as caught:
        parse_definition(xml)
    [problem] = [p for p in caught.value.problems if p.element_id == "sla_timer"]
    assert "refused by the script sandbox" in problem.message
