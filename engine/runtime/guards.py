"""Run-time guards the restricted compiler wires into every script: attribute, item and write
access, size-checked operators, and bounds on values that C code would walk uninterruptibly."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from engine.runtime.bounds import VIEWS, check_formatting, check_rendered
from engine.runtime.budget import MAX_INT_BITS, MAX_SEQUENCE, Refusal, _counted_iter

# --- run-time guards ----------------------------------------------------------------------------


MAX_WALK = 100_000  # nested items a value may hold when C code walks it
_FLAT = frozenset({str, int, float, bool, type(None), range})
_WALKABLE = (list, tuple, set, frozenset)


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
        elif isinstance(item, (*_WALKABLE, *VIEWS)):
            stack.extend(item)


def _bound(value: Any) -> Any:
    """``value`` itself, once it is known to be cheap for C code to compare, hash or print."""
    if type(value) not in _FLAT and isinstance(value, (dict, *_WALKABLE, *VIEWS)):
        _walk_size(value)
    return value


def _items(value: Any) -> Any:
    """Like :func:`_bound`; lazy iterables (generators, zip...) are materialized first."""
    if type(value) in _FLAT:
        return value
    if isinstance(value, (dict, *_WALKABLE, *VIEWS)):
        _walk_size(value)
        return value
    if callable(value):
        return value
    materialized = list(_counted_iter(value))
    _walk_size(materialized)
    return materialized


def _rendered(value: Any) -> Any:
    """Like :func:`_bound`, and its text (``str()``, an f-string part) fits ``MAX_SEQUENCE``."""
    _bound(value)
    check_rendered(value, "an f-string value")
    return value


def _str_argument(value: Any) -> Any:
    """The argument of ``str()``: bounded like :func:`_items`, and its text must fit."""
    value = _items(value)
    check_rendered(value, "str()")
    return value


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
        left_size, right_size = _size(left), _size(right)
        if left_size is not None and right_size is not None and left_size + right_size > MAX_SEQUENCE:
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
    right = _bound(right)
    if isinstance(left, str):
        check_formatting(left, right)
    return left % right


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


# str methods that return a scalar (or a tuple of at most three strings): both the scripts'
# guard and the expression evaluator (callables.py) allow exactly these; scripts also split
STR_SCALAR_METHODS = frozenset(
    [
        "lower",
        "upper",
        "title",
        "capitalize",
        "casefold",
        "strip",
        "lstrip",
        "rstrip",
        "removeprefix",
        "removesuffix",
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
        "partition",
        "rpartition",
    ]
)
_STR_METHODS = STR_SCALAR_METHODS | {"split", "rsplit", "splitlines"}
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
