"""The sandbox refuses hostile scripts with ScriptRefused naming the element, and runs plain ones."""

from types import SimpleNamespace

import pytest

from engine.runtime import ScriptFailed, ScriptRefused
from engine.runtime.engine import ENGINE, SiftScriptEngine
from engine.runtime.scripts import check_source


def run(script: str, data: dict | None = None) -> dict:
    task = SimpleNamespace(
        task_spec=SimpleNamespace(bpmn_id="hostile_step", name="hostile_step"), data=data or {}
    )
    ENGINE.execute(task, script)
    return task.data


HOSTILE = [
    ("import os", "import"),
    ("from os import path", "import"),
    ("__import__('os')", '"__import__"'),
    ("x = ().__class__.__bases__", "__bases__"),
    ('x = "{0.__class__}".format(1)', ".format"),
    ("open('/etc/passwd')", '"open"'),
    ("while True: pass", "step budget"),
    ("x = 'a' * 10**9", "repetition"),
    ("x = [0] * 10**9", "repetition"),
    ("x = 2 ** 10**6", "'**'"),
    ("x = 1 << 10**6", "'<<'"),
    ("getattr(1, '__class__')", '"getattr"'),
    ("x = (y for y in []).gi_frame", "gi_frame"),
    ("x = type(1)", "type() is not available"),
    ("x = compile('1', 's', 'eval')", '"compile"'),
    ("x = globals()", '"globals"'),
    ("x = vars()", '"vars"'),
    ("eval('1')", "Eval"),
    ("exec('x = 1')", "Exec"),
    ("x = now.__globals__", "__globals__"),
    ("x = [0 for i in range(100000) for j in range(100000)]", "step budget"),
    ("f = lambda n: f(n - 1) + f(n - 1) if n else 1\nx = f(40)", "step budget"),
    ("x = 'a'\nfor i in range(40):\n    x = x + x", "'+'"),
    ("x = '%999999d' % 1", "'%' formatting"),
    ('x = f"{1:>999999}"', "Format specs"),
    ("x = []\nfor i in range(30):\n    x = [x, x]", "more than"),
    ("x = (i for i in [1])", "generator"),
    ("class A:\n    pass", "Class definitions"),
    ("x = []\nwhile True:\n    try:\n        x.append(1)\n    except Exception:\n        pass", "budget"),
    ("try:\n    y = 1\nfinally:\n    y = 2", "finally"),
    ("x = 'ab'.replace('a', 'a' * 90000).replace('a', 'aa')", "replace"),
    ("x = {}\nx.__setitem__('a', 1)", "__setitem__"),
    ("x = range(10**9)", "range()"),
]


@pytest.mark.parametrize(("script", "what"), HOSTILE)
def test_hostile_scripts_are_refused_naming_the_element(script, what):
    data = {"keep": 1}
    with pytest.raises(ScriptRefused) as caught:
        run(script, data)
    assert caught.value.element_id == "hostile_step"
    assert what in caught.value.what
    assert "hostile_step" in caught.value.detail
    assert data == {"keep": 1}, "a refused script must not change task data"


def test_plain_scripts_run_and_write_back_plain_data():
    data = run(
        "total = sum([x * 2 for x in items])\n"
        "labels = sorted({k.upper() for k in tags})\n"
        "first, second = items[0], items[1]\n"
        "counts = {}\n"
        "counts['a'] = len(items)\n"
        "n = 0\n"
        "n += 5\n"
        "due = duration(hours=4)\n"
        "at = add_duration(datetime(2026, 1, 1), days=1)\n"
        "del tags",
        {"items": [1, 2, 3], "tags": ["b", "a"]},
    )
    assert data["total"] == 12
    assert data["labels"] == ["A", "B"]
    assert (data["first"], data["second"]) == (1, 2)
    assert data["counts"] == {"a": 3}
    assert data["n"] == 5
    assert data["due"] == "PT4H"
    assert data["at"].startswith("2026-01-02T00:00:00")
    assert "tags" not in data


def test_timedelta_takes_pythons_arguments_and_keeps_fractions_of_a_second():
    data = run(
        "two_days = timedelta(2)\n"
        "hour_and_half = timedelta(hours=1, minutes=30)\n"
        "quarter = timedelta(seconds=0.25)\n"
        "blink = timedelta(milliseconds=250)\n"
        "long = duration(days=1, seconds=1.5)\n"
        "week = duration(1)",
        {},
    )
    assert data["two_days"] == "P2D"  # Python's first argument is days, not weeks
    assert data["hour_and_half"] == "PT1H30M"
    assert data["quarter"] == data["blink"] == "PT0.25S"
    assert data["long"] == "P1DT1.5S"
    assert data["week"] == "P7D"  # duration() keeps its own order: weeks first


def test_ordinary_errors_are_script_failed_without_data():
    with pytest.raises(ScriptFailed) as caught:
        run("x = secret_value + 1", {})
    assert "secret_value" in caught.value.detail
    with pytest.raises(ScriptFailed) as caught:
        run("x = {'k': 'top secret'}['missing']", {})
    assert "top secret" not in caught.value.detail


def test_a_script_cannot_catch_a_refusal():
    with pytest.raises(ScriptRefused):
        run("try:\n    x = type(1)\nexcept Exception:\n    x = 'escaped'")


def test_expression_evaluation_is_sandboxed():
    task = SimpleNamespace(
        task_spec=SimpleNamespace(bpmn_id="flow_x", name="flow_x"), data={"action": "dismiss"}
    )
    assert ENGINE.evaluate(task, 'action == "dismiss"') is True
    with pytest.raises(ScriptRefused) as caught:
        ENGINE.evaluate(task, "().__class__")
    assert caught.value.element_id == "flow_x"


def test_check_source_reports_compile_time_refusals():
    assert check_source("x = 1") is None
    assert "import" in check_source("import os")
    assert check_source("action == 'x'", "eval") is None


def test_engine_is_a_python_script_engine_with_restricted_environment():
    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

    assert isinstance(ENGINE, SiftScriptEngine)
    assert isinstance(ENGINE, PythonScriptEngine)
    assert isinstance(ENGINE.environment, TaskDataEnvironment)


def test_task_data_cannot_shadow_the_guards():
    data = run("y = x.upper()", {"x": "a", "_getattr_": "not a guard", "__builtins__": {"open": 1}})
    assert data["y"] == "A"
    assert data["_getattr_"] == "not a guard", "underscore keys pass through untouched"
    with pytest.raises(ScriptRefused):
        run("y = x.__class__", {"x": "a", "_getattr_": "not a guard"})


SHARED = "a = [0] * 100000\nb = [0] * 100000\nfor i in range(16):\n    a = [a, a]\n    b = [b, b]\n"


@pytest.mark.parametrize(
    "tail",
    [
        "x = a == b",
        "x = a in [b]",
        "x = sorted([a, b])",
        "x = max(a, b)",
        "x = str(a)",
        'x = f"{a}"',
        "x = '%s' % (a,)",
        "x = [a].count(b)",
        "x = {tuple(a): 1}",
        "x = sorted(range(2), key=lambda i: [a, b][i])",
    ],
)
def test_c_level_work_over_shared_structures_is_refused(tail):
    """Comparing, printing or hashing cannot be interrupted: big nested values never reach it."""
    with pytest.raises(ScriptRefused) as caught:
        run(SHARED + tail)
    assert "nested items" in caught.value.what


def test_bounded_operations_still_work_on_ordinary_data():
    data = run(
        "x = items == [1, 2, 3]\ny = 2 in items\nz = sorted(items, key=lambda v: -v)\n"
        "w = max(v for v in items)\nd = {k: 1 for k in ('a', 'b')}\ns = f'{items}'\ni = items.index(2)",
        {"items": [1, 2, 3]},
    )
    assert data["x"] is True and data["y"] is True
    assert data["z"] == [3, 2, 1] and data["w"] == 3 and data["i"] == 1
    assert data["d"] == {"a": 1, "b": 1} and data["s"] == "[1, 2, 3]"


def test_print_renders_nothing():
    assert run(SHARED + "print(a)\ndel a\ndel b\nx = 1") == {"i": 15, "x": 1}
