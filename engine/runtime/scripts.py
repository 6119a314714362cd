"""The restricted script engine: every BPMN/DMN script and expression runs here.

Scripts come from process owners over the API, so they are untrusted. They are compiled with
RestrictedPython (no imports, no ``_`` names, no frame attributes) plus a policy of our own
(no classes, no ``finally``/bare ``except``, size-checked ``+ * % ** <<``), run with guards that
only admit plain data (dict, list, tuple, set, str, numbers, bool, None) and a few vetted helpers,
and under a step/time budget counted by ticks compiled into every loop and call (see budget.py).
Anything refused raises :class:`Refusal`, a ``BaseException``, so that a script's own ``except
Exception`` cannot swallow it.

Invariant: no object reachable from a script exposes a way to Python internals. Attribute access
goes through a per-type whitelist of methods; types, functions and modules expose nothing.
"""

from __future__ import annotations

import ast
import functools
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from RestrictedPython import (
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
)
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from engine.runtime.budget import (
    MAX_DATA_CHARS,
    MAX_DATA_NODES,
    MAX_INT_BITS,
    MAX_RANGE,
    MAX_SEQUENCE,
    Refusal,
    _counted_iter,
    _tick,
    run_budgeted,
)
from engine.runtime.guards import (
    MAX_WALK,
    _apply,
    _binop,
    _bound,
    _check_int,
    _guarded_getattr,
    _guarded_getitem,
    _guarded_write,
    _inplacevar,
    _items,
    _NoPrint,
    _rendered,
    _str_argument,
)
from engine.runtime.helpers import HELPERS, _safe_range

__all__ = [
    "BASE_GLOBALS",
    "GUARDS",
    "MAX_DATA_CHARS",
    "MAX_DATA_NODES",
    "MAX_INT_BITS",
    "MAX_RANGE",
    "MAX_SEQUENCE",
    "MAX_WALK",
    "RESERVED",
    "Refusal",
    "check_plain",
    "check_source",
    "compile_source",
    "describe_error",
    "run_budgeted",
    "run_script",
]

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
        node = _one(super().visit_FunctionDef(node), ast.FunctionDef)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = _one(super().visit_Lambda(node), ast.Lambda)
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
        return _one(super().visit_Name(node), ast.expr)  # the name, or _print's call or attribute

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
        node = _one(super().visit_FormattedValue(node), ast.FormattedValue)
        node.value = _bound_call(node.value, "_sift_rendered_")
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
        node = _one(super().visit_SetComp(node), ast.SetComp)
        node.elt = _bound_call(node.elt)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        node = _one(super().visit_DictComp(node), ast.DictComp)
        node.key = _bound_call(node.key)
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        node = self.node_contents_visit(node)
        if node.value is not None:
            node.value = _bound_call(node.value)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node = _one(super().visit_Call(node), ast.Call)
        if isinstance(node.func, ast.Name) and node.func.id in _CONSUMERS:
            helper = "_sift_str_" if node.func.id == "str" else "_sift_items_"
            node.args = [_bound_call(a, helper) for a in node.args]
        return node


_Node = TypeVar("_Node", bound=ast.AST)


def _one(result: ast.AST | Iterable[ast.AST] | None, kind: type[_Node]) -> _Node:
    """The node a RestrictedPython visitor returned, known to be a ``kind``.

    RestrictedPython annotates every visitor with NodeTransformer's return type (a node, a list of
    nodes, or None to drop it); the visitors Sift extends return one node, of the kind they were
    given (visit_Name: an expression). Checked rather than cast: a RestrictedPython that changed this would stop compiling
    scripts instead of handing Sift's policy a tree it does not expect."""
    if isinstance(result, kind):
        return result
    raise TypeError(f"RestrictedPython returned {type(result).__name__} where Sift expects {kind.__name__}")


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


_CACHED_SOURCE = 20_000  # longer sources are compiled each time, so the cache stays small


def compile_source(source: str, mode: str = "exec") -> Any:
    """Compile once per distinct source; raise :class:`Refusal` with every error found."""
    if len(source) > _CACHED_SOURCE:
        return _compile(source, mode)
    return _compile_cached(source, mode)


@functools.lru_cache(maxsize=4096)
def _compile_cached(source: str, mode: str) -> Any:
    return _compile(source, mode)


def _compile(source: str, mode: str) -> Any:
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
    "_sift_rendered_": _rendered,
    "_sift_str_": _str_argument,
    **HELPERS,
}
RESERVED = frozenset(BASE_GLOBALS)
#: Re-applied after task data is merged in, so no data key can shadow a guard.
GUARDS = {k: v for k, v in BASE_GLOBALS.items() if k.startswith("_")}


# --- running a script (in a sandbox process, see sandbox_main.py) ------------------------------


def run_script(source: str, context: dict, external: dict, steps: int, seconds: float) -> dict:
    """Execute ``source`` over task data; return the plain data it leaves, without ``_`` names.

    Refusals raise :class:`Refusal`; the script's own errors propagate as they are."""
    code = compile_source(source, "exec")
    namespace = dict(BASE_GLOBALS)
    namespace.update(external)
    namespace.update(context)
    namespace.update(GUARDS)
    run_budgeted(code, namespace, "exec", steps, seconds)
    result = {}
    for name, value in namespace.items():
        if name in RESERVED and value is BASE_GLOBALS[name]:
            continue
        if (name in external and value is external[name]) or name.startswith("_") or callable(value):
            continue
        check_plain(name, value)
        result[name] = value
    return result


def describe_error(err: BaseException) -> tuple[str, int | None]:
    """What a script's error was (its type; a NameError's name) and the script line, never data."""
    line = None
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        if frame.filename == "<script>":
            line = frame.lineno
            break
    if isinstance(err, NameError):
        return f"NameError ({err})", line
    return type(err).__name__, line


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
