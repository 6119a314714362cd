"""The restricted script engine: every BPMN/DMN script and expression runs here.

Scripts come from process owners over the API, so they are untrusted. They are compiled with
RestrictedPython (no imports, no ``_`` names, no frame attributes) plus a policy of our own
(no classes, no ``finally``/bare ``except``, size-checked ``+ * % ** <<``), run with guards that
only admit plain data (dict, list, tuple, set, str, numbers, bool, None) and a few vetted helpers,
and under a step/time budget enforced with ``sys.settrace``. Anything refused raises
:class:`Refusal`, a ``BaseException`` so that a script's own ``except Exception`` cannot swallow it.

Invariant: no object reachable from a script exposes a way to Python internals. Attribute access
goes through a per-type whitelist of methods; types, functions and modules expose nothing.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime as _datetime
from datetime import timedelta as _timedelta
from typing import Any

from RestrictedPython import (
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
)
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from engine.config import get_settings

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


# --- compile time -------------------------------------------------------------------------------

# Builtins a script may not even name (refused at compile time, so deployment reports them).
FORBIDDEN_NAMES = frozenset(
    [
        "open",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "breakpoint",
        "input",
        "help",
        "dir",
        "memoryview",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "iter",
        "next",
        "format",
        "exit",
        "quit",
    ]
)
# Refused when called; ``type`` stays a legal data variable name, so it is only stubbed.
STUBBED_NAMES = FORBIDDEN_NAMES | {"type", "id", "hash", "repr", "callable", "issubclass", "pow", "chr"}

_GUARDED_OPS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}


class SiftPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus Sift's: bounded operators, no classes, no swallowing refusals."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        symbol = _GUARDED_OPS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(
            func=ast.Name("_sift_binop_", ast.Load()),
            args=[ast.Constant(symbol), node.left, node.right],
            keywords=[],
        )
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_While(self, node: ast.While) -> ast.AST:
        node = self.node_contents_visit(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = super().visit_Lambda(node)
        node.body = _tick_call(_bound_call(node.body))
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        self.error(node, "async functions are not allowed.")
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST:
        self.error(node, "import statements are not allowed.")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST:
        self.error(node, "import statements are not allowed.")
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in FORBIDDEN_NAMES:
            self.error(node, f'"{node.id}" is not available in scripts.')
        return super().visit_Name(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "Class definitions are not allowed.")
        return node

    def visit_Try(self, node: ast.Try) -> ast.AST:
        if node.finalbody:
            self.error(node, "'finally' is not allowed.")
        for handler in node.handlers:
            if handler.type is None:
                self.error(handler, "A bare 'except:' is not allowed; name the exception.")
        return self.node_contents_visit(node)

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        self.error(node, "'yield' is not allowed.")
        return node

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        self.error(node, "'yield from' is not allowed.")
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        if node.format_spec is not None:
            self.error(node, "Format specs in f-strings are not allowed.")
        node = super().visit_FormattedValue(node)
        node.value = _bound_call(node.value)
        return node

    # C-level work over containers (comparing, hashing, printing, sorting) cannot be interrupted,
    # so every value that reaches it passes through ``_sift_bound_``, which refuses containers
    # with more than MAX_WALK nested items (including exponentially shared structures).

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        node = self.node_contents_visit(node)
        node.left = _bound_call(node.left)
        node.comparators = [_bound_call(c) for c in node.comparators]
        return node

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        node = self.node_contents_visit(node)
        node.keys = [_bound_call(k) if k is not None else None for k in node.keys]
        return node

    def visit_Set(self, node: ast.Set) -> ast.AST:
        node = self.node_contents_visit(node)
        node.elts = [_bound_call(e) for e in node.elts]
        return node

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        node = super().visit_SetComp(node)
        node.elt = _bound_call(node.elt)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        node = super().visit_DictComp(node)
        node.key = _bound_call(node.key)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        node = self.node_contents_visit(node)
        if node.value is not None:
            node.value = _bound_call(node.value)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node = super().visit_Call(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CONSUMERS:
            node.args = [_bound_call(a, "_sift_items_") for a in node.args]
        return node


def _tick_call(value: ast.expr | None = None) -> ast.expr:
    call = ast.Call(func=ast.Name("_sift_tick_", ast.Load()), args=[value] if value else [], keywords=[])
    return ast.fix_missing_locations(ast.copy_location(call, value)) if value else call


def _bound_call(value: ast.expr, helper: str = "_sift_bound_") -> ast.expr:
    call = ast.Call(func=ast.Name(helper, ast.Load()), args=[value], keywords=[])
    return ast.fix_missing_locations(ast.copy_location(call, value))


# Builtins that compare, hash or print their argument's items in C.
_CONSUMERS = frozenset({"sorted", "min", "max", "set", "dict", "str", "sum", "tuple", "list"})


def _tick_statement(node: ast.AST) -> ast.stmt:
    return ast.fix_missing_locations(ast.copy_location(ast.Expr(_tick_call()), node))


@functools.lru_cache(maxsize=4096)
def compile_source(source: str, mode: str = "exec") -> Any:
    """Compile once per distinct source; raise :class:`Refusal` with every error found."""
    if mode == "eval":
        result = compile_restricted_eval(source.strip(), "<script>", policy=SiftPolicy)
    else:
        result = compile_restricted_exec(source, "<script>", policy=SiftPolicy)
    if result.errors:
        raise Refusal("; ".join(result.errors))
    return result.code


def check_source(source: str, mode: str = "exec") -> str | None:
    """Return why ``source`` would be refused, or None if it compiles in the sandbox."""
    try:
        compile_source(source, mode)
    except Refusal as refusal:
        return refusal.what
    return None


# --- run-time guards ----------------------------------------------------------------------------


MAX_WALK = 100_000  # nested items a value may hold when C code walks it
_FLAT = frozenset({str, int, float, bool, type(None), range})
_WALKABLE = (list, tuple, set, frozenset)
_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))


def _walk_size(value: Any) -> None:
    budget = MAX_WALK
    stack = [value]
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            raise Refusal(f"a value holds more than {MAX_WALK} nested items (or refers to itself)")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (*_WALKABLE, *_VIEWS)):
            stack.extend(item)


def _bound(value: Any) -> Any:
    """``value`` itself, once it is known to be cheap for C code to compare, hash or print."""
    if type(value) not in _FLAT and isinstance(value, (dict, *_WALKABLE, *_VIEWS)):
        _walk_size(value)
    return value


def _items(value: Any) -> Any:
    """Like :func:`_bound`; lazy iterables (generators, zip...) are materialized first."""
    if type(value) in _FLAT:
        return value
    if isinstance(value, (dict, *_WALKABLE, *_VIEWS)):
        _walk_size(value)
        return value
    if callable(value):
        return value
    materialized = list(_counted_iter(value))
    _walk_size(materialized)
    return materialized


class _NoPrint:
    """``print`` in a script goes nowhere (and never renders a value)."""

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        return None

    def __call__(self) -> str:
        return ""


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, (str, list, tuple, bytes)) else None


def _check_int(value: Any, what: str) -> None:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise Refusal(f"{what} would build a number larger than {MAX_INT_BITS} bits")


def _binop(symbol: str, left: Any, right: Any) -> Any:
    if symbol == "+":
        sizes = (_size(left), _size(right))
        if None not in sizes and sizes[0] + sizes[1] > MAX_SEQUENCE:  # type: ignore[operator]
            raise Refusal(f"'+' would build a value longer than {MAX_SEQUENCE}")
        return left + right
    if symbol == "*":
        return _mult(left, right)
    if symbol == "**":
        return _pow(left, right)
    if symbol == "<<":
        if isinstance(right, int) and right > MAX_INT_BITS:
            raise Refusal(f"'<<' by more than {MAX_INT_BITS} bits")
        return left << right
    if isinstance(left, str) and _WIDE_FORMAT.search(left):
        raise Refusal("'%' formatting with a width or precision of 1000 or more, or '*'")
    return left % _bound(right)


_WIDE_FORMAT = re.compile(r"%[^a-zA-Z%]*?(\d{4,}|\*)")


def _mult(left: Any, right: Any) -> Any:
    for seq, times in ((left, right), (right, left)):
        size = _size(seq)
        if size is not None and isinstance(times, int) and size * times > MAX_SEQUENCE:
            raise Refusal(f"repetition ('*') would build a value longer than {MAX_SEQUENCE}")
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and left.bit_length() + right.bit_length() > MAX_INT_BITS
    ):
        raise Refusal(f"'*' would build a number larger than {MAX_INT_BITS} bits")
    return left * right


def _pow(base: Any, exponent: Any) -> Any:
    big = isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1
    if big and (exponent > MAX_INT_BITS or abs(base).bit_length() * exponent > MAX_INT_BITS):
        raise Refusal(f"'**' would build a number larger than {MAX_INT_BITS} bits")
    return base**exponent


_INPLACE = {
    "+=": "+",
    "*=": "*",
    "**=": "**",
    "<<=": "<<",
    "%=": "%",
}
_PLAIN_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "-=": operator.sub,
    "/=": operator.truediv,
    "//=": operator.floordiv,
    ">>=": operator.rshift,
    "&=": operator.and_,
    "|=": operator.or_,
    "^=": operator.xor,
}


def _inplacevar(op: str, left: Any, right: Any) -> Any:
    if op in _INPLACE:
        return _binop(_INPLACE[op], left, right)
    if op in _PLAIN_INPLACE:
        return _PLAIN_INPLACE[op](left, right)
    raise Refusal(f"operator {op!r}")


def _sized_join(text: str) -> Callable[[Any], str]:
    def join(items: Any) -> str:
        items = list(items)
        total = sum(len(i) if isinstance(i, str) else 0 for i in items) + len(text) * len(items)
        if total > MAX_SEQUENCE:
            raise Refusal(f"join would build a string longer than {MAX_SEQUENCE}")
        return text.join(items)

    return join


def _sized_replace(text: str) -> Callable[..., str]:
    def replace(old: str, new: str, count: int = -1) -> str:
        hits = text.count(old) if old else len(text) + 1
        if len(text) + hits * max(0, len(new) - len(old)) > MAX_SEQUENCE:
            raise Refusal(f"replace would build a string longer than {MAX_SEQUENCE}")
        return text.replace(old, new, count)

    return replace


def _sized_extend(items: list[Any]) -> Callable[[Any], None]:
    def extend(more: Any) -> None:
        more = list(more)
        if len(items) + len(more) > MAX_SEQUENCE:
            raise Refusal(f"extend would build a list longer than {MAX_SEQUENCE}")
        items.extend(more)

    return extend


_STR_METHODS = frozenset(
    [
        "lower",
        "upper",
        "strip",
        "lstrip",
        "rstrip",
        "split",
        "rsplit",
        "splitlines",
        "startswith",
        "endswith",
        "find",
        "rfind",
        "index",
        "rindex",
        "count",
        "isdigit",
        "isalpha",
        "isalnum",
        "isspace",
        "islower",
        "isupper",
        "isnumeric",
        "isdecimal",
        "title",
        "capitalize",
        "casefold",
        "partition",
        "rpartition",
        "removeprefix",
        "removesuffix",
    ]
)
_ALLOWED_ATTRS: dict[type, frozenset[str]] = {
    str: _STR_METHODS | {"join", "replace"},
    dict: frozenset(
        ["get", "keys", "values", "items", "pop", "setdefault", "update", "copy", "clear", "popitem"]
    ),
    list: frozenset(
        ["append", "extend", "insert", "pop", "remove", "index", "count", "sort", "reverse", "copy", "clear"]
    ),
    set: frozenset(
        [
            "add",
            "discard",
            "remove",
            "pop",
            "union",
            "intersection",
            "difference",
            "issubset",
            "issuperset",
            "copy",
        ]
    ),
    tuple: frozenset({"index", "count"}),
    float: frozenset({"is_integer"}),
}
_WRAPPED: dict[tuple[type, str], Callable[[Any], Any]] = {
    (str, "join"): _sized_join,
    (str, "replace"): _sized_replace,
    (list, "extend"): _sized_extend,
}


def _guarded_getattr(obj: Any, name: str, *default: Any) -> Any:
    allowed = _ALLOWED_ATTRS.get(type(obj), frozenset())
    if name not in allowed:
        raise Refusal(f"attribute '.{name}' on a {type(obj).__name__} value")
    wrapper = _WRAPPED.get((type(obj), name))
    if wrapper:
        return wrapper(obj)
    method = getattr(obj, name)
    if type(obj) is str or type(obj) is float:
        return method
    if type(obj) is list and name in _COMPARING:
        _walk_size(obj)
    return _bounded_method(method)


_COMPARING = frozenset({"count", "index", "remove", "sort"})


def _bounded_method(method: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return method(*[_bound(a) for a in args], **{k: _bound(v) for k, v in kwargs.items()})

    return call


_ITEM_TYPES = (dict, list, tuple, str)


def _guarded_getitem(obj: Any, key: Any) -> Any:
    if type(obj) not in _ITEM_TYPES:
        raise Refusal(f"indexing a {type(obj).__name__} value")
    return obj[_bound(key)]


def _guarded_write(obj: Any) -> Any:
    if type(obj) not in (dict, list):
        raise Refusal(f"changing a {type(obj).__name__} value in place")
    return obj


def _apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


# --- vetted helpers: each returns plain data only -----------------------------------------------


def _safe_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise Refusal(f"range() longer than {MAX_RANGE}")
    return result


def now() -> str:
    """Current time, ISO 8601 in UTC."""
    return _datetime.now(UTC).isoformat()


def duration(
    weeks: float = 0, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
) -> str:
    """An ISO 8601 duration string such as ``'P1DT4H'``, usable as a timer expression."""
    total = _timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    whole = int(total.total_seconds())
    if whole < 0:
        raise ValueError("duration must not be negative")
    d, rest = divmod(whole, 86_400)
    h, rest = divmod(rest, 3_600)
    m, s = divmod(rest, 60)
    clock = "".join(f"{v}{u}" for v, u in ((h, "H"), (m, "M"), (s, "S")) if v)
    return f"P{d}D" + (f"T{clock}" if clock else "") if d else f"PT{clock or '0S'}"


def datetime(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> str:
    """An ISO 8601 UTC timestamp string."""
    return _datetime(year, month, day, hour, minute, second, tzinfo=UTC).isoformat()


def add_duration(
    timestamp: str, weeks: float = 0, days: float = 0, hours: float = 0, minutes: float = 0
) -> str:
    """``timestamp`` (ISO 8601; naive means UTC) moved by the given amount, as an ISO string."""
    moment = _datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    shifted = moment + _timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    return shifted.astimezone(UTC).isoformat()


HELPERS: dict[str, Any] = {
    "now": now,
    "duration": duration,
    "timedelta": duration,
    "datetime": datetime,
    "add_duration": add_duration,
}

_BUILTINS: dict[str, Any] = {
    "None": None,
    "True": True,
    "False": False,
    "len": len,
    "min": min,
    "max": max,
    "sorted": sorted,
    "sum": sum,
    "any": any,
    "all": all,
    "abs": abs,
    "round": round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "tuple": tuple,
    "range": _safe_range,
    "enumerate": enumerate,
    "zip": zip,
    "reversed": reversed,
    "isinstance": isinstance,
    "Exception": Exception,
    "ValueError": ValueError,
    "KeyError": KeyError,
    "TypeError": TypeError,
    "IndexError": IndexError,
    "ZeroDivisionError": ZeroDivisionError,
}


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


def run_budgeted(code: Any, namespace: dict[str, Any], mode: str) -> Any:
    """Run compiled ``code`` in ``namespace`` under the configured step and time budget."""
    budget = _BUDGET
    if budget.active:  # nested call (a helper evaluating more script): share the outer budget
        return eval(code, namespace) if mode == "eval" else exec(code, namespace)
    settings = get_settings()
    budget.limit = budget.steps_left = settings.script_step_limit
    budget.seconds = settings.script_time_limit_seconds
    budget.deadline = time.perf_counter() + settings.script_time_limit_seconds
    budget.active = True
    try:
        if mode == "eval":
            return eval(code, namespace)  # compiled by RestrictedPython above
        exec(code, namespace)  # compiled by RestrictedPython above
        return None
    finally:
        budget.active = False


def _refuse_builtin(name: str) -> Callable[..., Any]:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise Refusal(f"{name}() is not available in scripts")

    return refused


_BUILTINS.update({name: _refuse_builtin(name) for name in STUBBED_NAMES})

BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "__name__": "sift_script",
    "_getattr_": _guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": _counted_iter,
    "_write_": _guarded_write,
    "_apply_": _apply,
    "_print_": _NoPrint,
    "_inplacevar_": _inplacevar,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_sift_binop_": _binop,
    "_sift_tick_": _tick,
    "_sift_bound_": _bound,
    "_sift_items_": _items,
    **HELPERS,
}
RESERVED = frozenset(BASE_GLOBALS)
#: Re-applied after task data is merged in, so no data key can shadow a guard.
GUARDS = {k: v for k, v in BASE_GLOBALS.items() if k.startswith("_")}


# --- results must be plain data -----------------------------------------------------------------

_SCALARS = (str, int, float, bool, type(None))


def check_plain(name: str, value: Any) -> None:
    """Refuse values that are not plain JSON-like data or that are too big to store."""
    budget = [MAX_DATA_NODES, MAX_DATA_CHARS]
    _walk(name, value, budget, 0)


def _walk(name: str, value: Any, budget: list[int], depth: int) -> None:
    budget[0] -= 1
    if budget[0] < 0 or depth > 64:
        raise Refusal(f"variable {name!r} holds more than {MAX_DATA_NODES} values or is nested too deeply")
    if isinstance(value, _SCALARS):
        if isinstance(value, str):
            budget[1] -= len(value)
            if budget[1] < 0:
                raise Refusal(f"variable {name!r} holds more than {MAX_DATA_CHARS} characters")
        elif isinstance(value, int) and not isinstance(value, bool):
            _check_int(value, f"variable {name!r}")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise Refusal(f"variable {name!r} has a non-string dict key; use strings as keys")
            _walk(name, item, budget, depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _walk(name, item, budget, depth + 1)
        return
    raise Refusal(f"variable {name!r} holds a {type(value).__name__}; task data must be plain data")
