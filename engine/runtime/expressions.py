"""The expression evaluator: gateway conditions, timer expressions, DMN cells, service-task
parameters and message payloads, evaluated in-process.

These run in the worker for every signal (the routing table) and in the API at upload (timers),
so they cannot go to a sandbox process; instead the language is small enough that every
operation is bounded before it runs. An expression is Python syntax without statements, lambdas,
assignment (``:=``) or unpacking: no loop but a comprehension, whose iterations are counted.
Calls go to vetted functions and per-type methods only (see callables.py), each of which checks
the cost of its C work and the size of what it builds; an evaluation's allocations are charged
to a memory budget and its iterations to a step and time budget.

Sources are checked with the script sandbox's RestrictedPython policy first, so every refusal
scripts had (``_`` names, imports, ``getattr``...) keeps its wording; then the syntax tree is
compiled once into nested closures, which keeps a DMN cell at a few hundred nanoseconds.

simpleeval was the library candidate; it was not used because it cannot bound this: its
attribute access returns any public method unwrapped (``'a'.ljust(10**9)``), ``%`` and ``str()``
are unbounded, comprehension items are counted but not their size, results are re-walked after
every node, and its comprehension handler mutates the shared evaluator (not thread-safe).
"""

from __future__ import annotations

import ast
import functools
import operator
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from engine.runtime import callables
from engine.runtime.bounds import MAX_HASHED, VIEWS, check_formatting, check_rendered
from engine.runtime.budget import MAX_INT_BITS, MAX_SEQUENCE, Refusal
from engine.runtime.callables import FUNCTIONS, SCALARS, TYPES, charge, hashable, walked
from engine.runtime.guards import _mult, _pow

MAX_SOURCE = 10_000  # characters of one expression
MAX_DEPTH = 100  # nesting of one expression's syntax tree
MEMORY_BYTES = 4 * 1024 * 1024  # what one evaluation may allocate (estimated before it does)
_ITEM = 40  # bytes charged per comprehension item (a list slot and a small object)

Fn = Callable[[Mapping[str, Any], Any, "Run | None"], Any]
#: A closure that ticks or charges the run; only ``_Compiler._metered`` turns one into an ``Fn``.
Metered = Callable[[Mapping[str, Any], Any, "Run"], Any]


class Run:
    """The budget of one evaluation: steps (comprehension iterations), time and memory."""

    __slots__ = ("deadline", "limit", "memory", "seconds", "started", "steps")

    def __init__(self, steps: int, seconds: float, memory: int = MEMORY_BYTES) -> None:
        self.limit = self.steps = steps
        self.seconds = seconds
        self.memory = memory
        self.started = time.perf_counter()
        self.deadline = self.started + seconds

    @classmethod
    def from_settings(cls) -> Run:
        from engine.config import get_settings

        settings = get_settings()
        return cls(settings.script_step_limit, settings.script_time_limit_seconds)

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise Refusal(f"the step budget ({self.limit} steps) was used up")
        if time.perf_counter() > self.deadline:
            raise Refusal(f"the time budget ({self.seconds}s) was used up")

    def charge(self, size: int) -> None:
        self.memory -= size
        if self.memory < 0:
            raise Refusal(f"the expression would allocate more than {MEMORY_BYTES // 2**20} MB")

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class Expression:
    """One compiled expression; evaluate it against plain data as often as needed."""

    def __init__(self, source: str, fn: Fn, uses_run: bool) -> None:
        self.source = source
        self._fn = fn
        self._uses_run = uses_run

    def evaluate(self, names: Mapping[str, Any], bound: dict | None = None, run: Run | None = None) -> Any:
        """The value over ``names`` (task data); ``bound`` holds names compiled as ``bound``."""
        if run is None and self._uses_run:
            run = Run.from_settings()
        value = self._fn(names, bound, run)
        return walked(value)  # the caller may store, print or compare it


def compile_expression(source: str, bound: tuple[str, ...] = ()) -> Expression:
    """Check and compile ``source``; raise :class:`Refusal` saying what is not allowed."""
    if len(source) > MAX_SOURCE:
        raise Refusal(f"an expression longer than {MAX_SOURCE} characters")
    return _compile_cached(source, bound)


@functools.lru_cache(maxsize=4096)
def _compile_cached(source: str, bound: tuple[str, ...]) -> Expression:
    from engine.runtime.scripts import compile_source

    try:
        compile_source(source, "eval")  # RestrictedPython's refusals and Sift's policy, same words
        tree = ast.parse(source.strip(), "<expression>", mode="eval")
    except (RecursionError, MemoryError):
        raise Refusal(f"the expression is nested more than {MAX_DEPTH} levels deep") from None
    compiler = _Compiler()
    fn = compiler.compile(tree.body, frozenset(bound), 0)
    return Expression(source, fn, compiler.uses_run)


def check_expression(source: str, bound: tuple[str, ...] = ()) -> str | None:
    """Why ``source`` would be refused, or None if it compiles."""
    try:
        compile_expression(source, bound)
    except Refusal as refusal:
        return refusal.what
    return None


_NOT_AVAILABLE = {
    ast.Lambda: "lambda",
    ast.NamedExpr: "assignment (':=')",
    ast.Starred: "unpacking with '*'",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


class _Compiler:
    """Turns a syntax tree into closures ``fn(names, bound, run)``; refuses what is not allowed."""

    def __init__(self) -> None:
        self.uses_run = False
        self.constants: dict[Fn, Any] = {}

    def compile(self, node: ast.AST, local: frozenset[str], depth: int) -> Fn:
        if depth > MAX_DEPTH:
            raise Refusal(f"the expression is nested more than {MAX_DEPTH} levels deep")
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            what = _NOT_AVAILABLE.get(type(node), type(node).__name__)
            raise Refusal(f"{what} is not available in expressions")
        return handler(node, local, depth + 1)

    def _constant(self, value: Any) -> Fn:
        def constant(names: Any, bound: Any, run: Any) -> Any:
            return value

        self.constants[constant] = value
        return constant

    def _metered(self, fn: Metered) -> Fn:
        """``fn`` as an ``Fn``: it needs the evaluation's Run, so the expression now uses one.

        ``Expression.evaluate`` makes a Run whenever ``uses_run`` is set, so a metered closure is
        never called with None. Expressions that need none skip making it: ``priority == "high"``
        evaluates in about 180 ns, ``Run.from_settings()`` takes about 900 ns. The cast states that
        invariant; ``uses_run`` is set here only, so no metered closure can escape it."""
        self.uses_run = True
        return cast(Fn, fn)

    def _Constant(self, node: ast.Constant, local: frozenset[str], depth: int) -> Fn:
        value = node.value
        if type(value) not in SCALARS:
            raise Refusal(f"{type(value).__name__} literals are not available in expressions")
        if type(value) is str and len(value) > MAX_SEQUENCE:
            raise Refusal(f"a string literal longer than {MAX_SEQUENCE}")
        if type(value) is int and value.bit_length() > MAX_INT_BITS:
            raise Refusal(f"a number larger than {MAX_INT_BITS} bits")
        return self._constant(value)

    def _Name(self, node: ast.Name, local: frozenset[str], depth: int) -> Fn:
        key = node.id
        if key in local:
            return lambda names, bound, run: bound[key]

        def name(names: Mapping[str, Any], bound: Any, run: Any) -> Any:
            try:
                return names[key]
            except KeyError:
                if key in FUNCTIONS:
                    raise Refusal(f"{key}() is a function; an expression can only call it") from None
                raise NameError(f"name {key!r} is not defined") from None

        return name

    def _items(self, nodes: list[ast.expr], local: frozenset[str], depth: int) -> list[Fn]:
        return [self.compile(n, local, depth) for n in nodes]

    def _Tuple(self, node: ast.Tuple, local: frozenset[str], depth: int) -> Fn:
        parts = self._items(node.elts, local, depth)
        if all(p in self.constants for p in parts):
            return self._constant(tuple(self.constants[p] for p in parts))
        return self._metered(
            lambda names, bound, run: charge(run, tuple([p(names, bound, run) for p in parts]))
        )

    def _List(self, node: ast.List, local: frozenset[str], depth: int) -> Fn:
        parts = self._items(node.elts, local, depth)
        return self._metered(lambda names, bound, run: charge(run, [p(names, bound, run) for p in parts]))

    def _Set(self, node: ast.Set, local: frozenset[str], depth: int) -> Fn:
        if len(node.elts) > MAX_HASHED:
            raise Refusal(f"a set would hold more than {MAX_HASHED} items")
        parts = self._items(node.elts, local, depth)
        return self._metered(
            lambda names, bound, run: charge(run, {hashable(p(names, bound, run)) for p in parts})
        )

    def _Dict(self, node: ast.Dict, local: frozenset[str], depth: int) -> Fn:
        if len(node.keys) > MAX_HASHED:
            raise Refusal(f"a dict would hold more than {MAX_HASHED} items")
        if any(k is None for k in node.keys):
            raise Refusal("unpacking with '**' is not available in expressions")
        pairs = [
            (self.compile(k, local, depth), self.compile(v, local, depth))
            for k, v in zip(node.keys, node.values, strict=True)
            if k is not None
        ]
        return self._metered(
            lambda names, bound, run: charge(
                run, {hashable(k(names, bound, run)): v(names, bound, run) for k, v in pairs}
            )
        )

    def _BinOp(self, node: ast.BinOp, local: frozenset[str], depth: int) -> Fn:
        apply = _BINARY.get(type(node.op))
        if apply is None:
            raise Refusal(f"the operator {type(node.op).__name__} is not available in expressions")
        left, right = self.compile(node.left, local, depth), self.compile(node.right, local, depth)
        return self._metered(
            lambda names, bound, run: apply(run, left(names, bound, run), right(names, bound, run))
        )

    def _UnaryOp(self, node: ast.UnaryOp, local: frozenset[str], depth: int) -> Fn:
        apply = _UNARY[type(node.op)]
        operand = self.compile(node.operand, local, depth)
        return lambda names, bound, run: apply(operand(names, bound, run))

    def _BoolOp(self, node: ast.BoolOp, local: frozenset[str], depth: int) -> Fn:
        parts = self._items(node.values, local, depth)
        if isinstance(node.op, ast.And):

            def conjunction(names: Mapping[str, Any], bound: Any, run: Any) -> Any:
                for part in parts:
                    value = part(names, bound, run)
                    if not value:
                        return value
                return value

            return conjunction

        def disjunction(names: Mapping[str, Any], bound: Any, run: Any) -> Any:
            for part in parts:
                value = part(names, bound, run)
                if value:
                    return value
            return value

        return disjunction

    def _IfExp(self, node: ast.IfExp, local: frozenset[str], depth: int) -> Fn:
        test, body, orelse = (self.compile(n, local, depth) for n in (node.test, node.body, node.orelse))
        return lambda names, bound, run: (
            body(names, bound, run) if test(names, bound, run) else orelse(names, bound, run)
        )

    def _Compare(self, node: ast.Compare, local: frozenset[str], depth: int) -> Fn:
        operands = self._items([node.left, *node.comparators], local, depth)
        tests = []
        for i, op in enumerate(node.ops):
            # comparing with a literal costs at most the literal's size: no check needed
            checked = operands[i] not in self.constants and operands[i + 1] not in self.constants
            tests.append((_COMPARE[type(op)], checked))
        if len(tests) == 1 and not tests[0][1]:
            (test, _), (left, right) = tests[0], operands
            return lambda names, bound, run: test(left(names, bound, run), right(names, bound, run))

        def compare(names: Mapping[str, Any], bound: Any, run: Any) -> bool:
            left = operands[0](names, bound, run)
            for (test, checked), part in zip(tests, operands[1:], strict=True):
                right = part(names, bound, run)
                if checked:
                    _check_compare(test, left, right)
                if not test(left, right):
                    return False
                left = right
            return True

        return compare

    def _Call(self, node: ast.Call, local: frozenset[str], depth: int) -> Fn:
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise Refusal("unpacking with '*' is not available in expressions")
        args = self._items(node.args, local, depth)
        keywords = [(k.arg, self.compile(k.value, local, depth)) for k in node.keywords]
        if isinstance(node.func, ast.Attribute):
            return self._metered(self._method_call(node.func, args, keywords, local, depth))
        if not isinstance(node.func, ast.Name) or node.func.id in local:
            raise Refusal("only named functions and methods can be called in expressions")
        if node.func.id == "isinstance":
            return self._isinstance(node, args)
        return self._metered(_function_call(node.func.id, args, keywords))

    def _method_call(
        self, func: ast.Attribute, args: list[Fn], keywords: list, local: frozenset[str], depth: int
    ) -> Metered:
        target, name = self.compile(func.value, local, depth), func.attr

        def call(names: Mapping[str, Any], bound: Any, run: Run) -> Any:
            obj = target(names, bound, run)
            found = callables.method(obj, name)
            kwargs = {k: v(names, bound, run) for k, v in keywords}
            return found(run, obj, *[a(names, bound, run) for a in args], **kwargs)

        return call

    def _isinstance(self, node: ast.Call, args: list[Fn]) -> Fn:
        spec = node.args[1] if len(node.args) == 2 else None
        names = spec.elts if isinstance(spec, ast.Tuple) else [spec]
        kinds = tuple(TYPES[n.id] for n in names if isinstance(n, ast.Name) and n.id in TYPES)
        if len(kinds) != len(names):
            raise Refusal(f"isinstance() takes a value and one of {', '.join(TYPES)} (or a tuple of them)")
        value = args[0]
        return lambda names, bound, run: isinstance(value(names, bound, run), kinds)

    def _Attribute(self, node: ast.Attribute, local: frozenset[str], depth: int) -> Fn:
        owner = node.value.id if isinstance(node.value, ast.Name) else "x"
        raise Refusal(
            f"reading the attribute '.{node.attr}' is not available in expressions (task data are "
            f"dictionaries): write {owner}['{node.attr}'], or call a method as in {owner}.{node.attr}()"
        )

    def _Subscript(self, node: ast.Subscript, local: frozenset[str], depth: int) -> Fn:
        target = self.compile(node.value, local, depth)
        key = self.compile(node.slice, local, depth)
        return self._metered(
            lambda names, bound, run: _item(run, target(names, bound, run), key(names, bound, run))
        )

    def _Slice(self, node: ast.Slice, local: frozenset[str], depth: int) -> Fn:
        parts = [
            self.compile(p, local, depth) if p is not None else None
            for p in (node.lower, node.upper, node.step)
        ]
        return lambda names, bound, run: slice(*[p(names, bound, run) if p else None for p in parts])

    def _JoinedStr(self, node: ast.JoinedStr, local: frozenset[str], depth: int) -> Fn:
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                quoted = value.conversion in (ord("r"), ord("a"))
                parts.append((self.compile(value.value, local, depth), value.conversion, quoted))
            else:
                parts.append((self.compile(value, local, depth), -1, False))
        return self._metered(
            lambda names, bound, run: _fstring(run, [(p(names, bound, run), c, q) for p, c, q in parts])
        )

    def _comprehension(
        self, node: Any, local: frozenset[str], depth: int, build: Callable[..., Metered]
    ) -> Fn:
        loops = []
        for generator in node.generators:
            if generator.is_async:
                raise Refusal("async comprehensions are not available in expressions")
            iterable = self.compile(generator.iter, local, depth)
            targets = _target_names(generator.target)
            local = local | set(targets)
            loops.append((iterable, generator.target, [self.compile(c, local, depth) for c in generator.ifs]))
        parts = [self.compile(p, local, depth) for p in _comprehension_parts(node)]
        return self._metered(build(loops, parts))

    def _ListComp(self, node: ast.ListComp, local: frozenset[str], depth: int) -> Fn:
        return self._comprehension(node, local, depth, _collect(list))

    _GeneratorExp = _ListComp  # a generator is run to a list: iterations are counted either way

    def _SetComp(self, node: ast.SetComp, local: frozenset[str], depth: int) -> Fn:
        return self._comprehension(node, local, depth, _collect(set))

    def _DictComp(self, node: ast.DictComp, local: frozenset[str], depth: int) -> Fn:
        return self._comprehension(node, local, depth, _collect(dict))


def _comprehension_parts(node: Any) -> list[ast.expr]:
    return [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for t in target.elts for name in _target_names(t)]
    raise Refusal("a comprehension may only bind names, as in 'for k, v in pairs'")


def _assign(scope: dict[str, Any], target: ast.expr, value: Any) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = value
        return
    items = list(value) if type(value) in (list, tuple) else None
    elts = target.elts if isinstance(target, ast.Tuple | ast.List) else []  # _target_names allows no other
    if items is None or len(items) != len(elts):
        raise ValueError(f"cannot unpack a {type(value).__name__} into {len(elts)} names")
    for sub, item in zip(elts, items, strict=True):
        _assign(scope, sub, item)


_ITERABLE = (list, tuple, str, dict, set, frozenset, range, *VIEWS)


def _collect(kind: type) -> Callable[..., Metered]:
    """A comprehension building a ``kind``; every iteration ticks, every item is charged."""

    def build(loops: list, parts: list[Fn]) -> Metered:
        def comprehension(names: Mapping[str, Any], bound: Any, run: Run) -> Any:
            out: Any = kind()
            _loop(
                loops,
                0,
                names,
                dict(bound or {}),
                run,
                lambda scope: _add(kind, out, parts, names, scope, run),
            )
            return out

        return comprehension

    return build


def _loop(loops: list, index: int, names: Any, scope: dict[str, Any], run: Run, emit: Callable) -> None:
    iterable, target, conditions = loops[index]
    items = iterable(names, scope, run)
    if type(items) not in _ITERABLE:
        raise TypeError(f"a {type(items).__name__} value cannot be iterated in an expression")
    for item in items:
        run.tick()
        _assign(scope, target, item)
        if all(c(names, scope, run) for c in conditions):
            if index + 1 < len(loops):
                _loop(loops, index + 1, names, scope, run, emit)
            else:
                emit(scope)


def _add(kind: type, out: Any, parts: list[Fn], names: Any, scope: dict[str, Any], run: Run) -> None:
    run.charge(_ITEM)
    if kind is list:
        out.append(parts[0](names, scope, run))
        return
    if len(out) >= MAX_HASHED:
        raise Refusal(f"a {kind.__name__} would hold more than {MAX_HASHED} items")
    if kind is set:
        out.add(hashable(parts[0](names, scope, run)))
    else:
        out[hashable(parts[0](names, scope, run))] = parts[1](names, scope, run)


def _function_call(name: str, args: list[Fn], keywords: list) -> Metered:
    vetted = FUNCTIONS.get(name)

    def call(names: Mapping[str, Any], bound: Any, run: Run) -> Any:
        if name in names:  # task data shadows functions, as it shadows builtins in Python
            raise TypeError(f"'{type(names[name]).__name__}' object is not callable")
        if vetted is None:
            raise NameError(f"name {name!r} is not defined")
        return vetted(
            run, *[a(names, bound, run) for a in args], **{k: v(names, bound, run) for k, v in keywords}
        )

    return call


def _item(run: Run, target: Any, key: Any) -> Any:
    kind = type(target)
    if kind not in (dict, list, tuple, str):
        raise Refusal(f"indexing a {kind.__name__} value")
    if kind is dict:
        return target[hashable(key)]
    return charge(run, target[key]) if type(key) is slice else target[key]


def _fstring(run: Run, parts: list[tuple[Any, int, bool]]) -> str:
    size = sum(check_rendered(value, "an f-string", quoted) for value, _, quoted in parts)
    if size > MAX_SEQUENCE:
        raise Refusal(f"an f-string would build a string longer than {MAX_SEQUENCE}")
    run.charge(size)
    return "".join(value if c == -1 and type(value) is str else _CONVERT[c](value) for value, c, _ in parts)


#: f-string conversions by ``ast.FormattedValue.conversion`` (-1: none, ``!s``, ``!r``, ``!a``)
_CONVERT: dict[int, Callable[[Any], str]] = {-1: format, ord("s"): str, ord("r"): repr, ord("a"): ascii}


def _check_compare(test: Callable[[Any, Any], Any], left: Any, right: Any) -> None:
    """C compares item by item: bound the work when both sides are containers."""
    if test in (_contains, _not_contains):
        if type(right) in (list, tuple) or isinstance(right, VIEWS):
            walked(right)
        elif type(right) is not str:
            hashable(left)
    elif (
        type(left) not in SCALARS
        and type(right) not in SCALARS
        and test not in (operator.is_, operator.is_not)
    ):
        walked(left)
        walked(right)


def _contains(left: Any, right: Any) -> bool:
    return left in right


def _not_contains(left: Any, right: Any) -> bool:
    return left not in right


_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: _contains,
    ast.NotIn: _not_contains,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}


def _add_values(run: Run, left: Any, right: Any) -> Any:
    sized = (str, list, tuple)
    if type(left) in sized and type(right) in sized and len(left) + len(right) > MAX_SEQUENCE:
        raise Refusal(f"'+' would build a value longer than {MAX_SEQUENCE}")
    return charge(run, left + right)


def _modulo(run: Run, left: Any, right: Any) -> Any:
    if type(left) is str:
        run.charge(check_formatting(left, walked(right)))
    return left % right


def _shift(run: Run, left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right > MAX_INT_BITS:
        raise Refusal(f"'<<' would build a number larger than {MAX_INT_BITS} bits")
    return left << right


def _plain(op: Callable[[Any, Any], Any]) -> Callable[[Run, Any, Any], Any]:
    return lambda run, left, right: charge(run, op(left, right))


_BINARY: dict[type, Callable[[Run, Any, Any], Any]] = {
    ast.Add: _add_values,
    ast.Mult: lambda run, left, right: charge(run, _mult(left, right)),
    ast.Pow: lambda run, left, right: _pow(left, right),
    ast.Mod: _modulo,
    ast.LShift: _shift,
    ast.Sub: _plain(operator.sub),
    ast.Div: _plain(operator.truediv),
    ast.FloorDiv: _plain(operator.floordiv),
    ast.RShift: _plain(operator.rshift),
    ast.BitAnd: _plain(operator.and_),
    ast.BitOr: _plain(operator.or_),
    ast.BitXor: _plain(operator.xor),
}
