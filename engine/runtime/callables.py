"""The functions and methods an expression may call, each bounded before it runs.

Every entry takes the evaluation's :class:`~engine.runtime.expressions.Run` first. Anything that
walks its argument in C (sorting, comparing, hashing, printing) checks the argument's weight
first; anything that builds a value checks or charges the size of what it builds. Methods that
change a value are refused: an expression reads data, it never changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.runtime.bounds import MAX_HASHED, check_rendered, weight
from engine.runtime.budget import MAX_SEQUENCE, Refusal
from engine.runtime.guards import MAX_WALK, STR_SCALAR_METHODS, _sized_join, _sized_replace
from engine.runtime.helpers import HELPERS, _safe_range

if TYPE_CHECKING:
    from engine.runtime.expressions import Run

SCALARS = frozenset({str, int, float, bool, type(None)})
_SLOT = 8  # bytes per item of a list or tuple
_ENTRY = 64  # bytes per item of a set or dict, or per new small object


def walked(value: Any) -> Any:
    """``value``, once C code can walk it cheaply (the same limit scripts have)."""
    if type(value) not in SCALARS and weight(value, MAX_WALK) > MAX_WALK:
        raise Refusal(f"a value holds more than {MAX_WALK} nested items (or refers to itself)")
    return value


def hashable(value: Any) -> Any:
    """``value`` as a set item or dict key: a tuple is hashed item by item, so it is walked."""
    return walked(value) if type(value) is tuple else value


def charge(run: Run, value: Any) -> Any:
    """Count what ``value`` holds against the run's memory budget; return it."""
    kind = type(value)
    if kind is str:
        run.charge(len(value))
    elif kind in (list, tuple):
        run.charge(_SLOT * len(value))
    elif kind in (dict, set, frozenset):
        run.charge(_ENTRY * len(value))
    return value


def _hashed(items: Any, what: str) -> Any:
    if len(items) > MAX_HASHED:
        raise Refusal(f"{what} would hold more than {MAX_HASHED} items")
    return walked(items)


# --- functions ----------------------------------------------------------------------------------


def _str(run: Run, value: Any = "") -> str:
    run.charge(check_rendered(value, "str()"))
    return str(value)


def _round(run: Run, number: Any, ndigits: int | None = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > 400:
        raise Refusal("round() to more than 400 digits")
    return round(number, ndigits)


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    def extreme(run: Run, *args: Any, **kwargs: Any) -> Any:
        return pick(*walked(args), **kwargs) if len(args) != 1 else pick(walked(args[0]), **kwargs)

    return extreme


def _sum(run: Run, items: Any, start: Any = 0) -> Any:
    walked(items)
    if not all(type(i) in (int, float, bool) for i in (*items, start)):
        raise TypeError("sum() in an expression adds numbers only")
    return sum(items, start)


def _sorted(run: Run, items: Any, reverse: bool = False) -> list[Any]:
    run.charge(_SLOT * len(walked(items)))
    return sorted(items, reverse=reverse)


def _copy(kind: type) -> Callable[..., Any]:
    def copy(run: Run, items: Any = ()) -> Any:
        run.charge(_ENTRY * len(items))  # a new int per item of a range, a slot per item
        return kind(items)

    return copy


def _set(run: Run, items: Any = ()) -> set[Any]:
    run.charge(_ENTRY * len(_hashed(items, "set()")))
    return set(items)


def _dict(run: Run, items: Any = (), **pairs: Any) -> dict[Any, Any]:
    run.charge(_ENTRY * (len(_hashed(items, "dict()")) + len(pairs)))
    return dict(items, **pairs)


def _enumerate(run: Run, items: Any, start: int = 0) -> list[tuple[int, Any]]:
    run.charge(2 * _ENTRY * len(items))
    return list(enumerate(items, start))


def _zip(run: Run, *iterables: Any) -> list[tuple[Any, ...]]:
    run.charge(_ENTRY * len(iterables) * min((len(i) for i in iterables), default=0))
    return list(zip(*iterables, strict=False))


def _reversed(run: Run, items: Any) -> list[Any]:
    run.charge(_SLOT * len(items))
    return list(reversed(items))


def _plain(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(run: Run, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return call


def _refused(name: str) -> Callable[..., Any]:
    def refused(run: Run, *args: Any, **kwargs: Any) -> Any:
        raise Refusal(f"{name}() is not available in scripts")

    return refused


def _range(run: Run, *args: int) -> range:
    return _safe_range(*args)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _plain(len),
    "abs": _plain(abs),
    "bool": _plain(bool),
    "int": _plain(int),
    "float": _plain(float),
    "any": _plain(any),
    "all": _plain(all),
    "round": _round,
    "str": _str,
    "min": _extreme(min),
    "max": _extreme(max),
    "sum": _sum,
    "sorted": _sorted,
    "list": _copy(list),
    "tuple": _copy(tuple),
    "set": _set,
    "dict": _dict,
    "range": _range,
    "enumerate": _enumerate,
    "zip": _zip,
    "reversed": _reversed,
    **{name: _plain(fn) for name, fn in HELPERS.items()},
    **{
        name: _refused(name)
        for name in ("type", "id", "hash", "repr", "callable", "issubclass", "pow", "chr")
    },
}
#: Names ``isinstance`` accepts as its second argument.
TYPES: dict[str, type] = {t.__name__: t for t in (str, int, float, bool, list, dict, set, tuple)}


# --- methods ------------------------------------------------------------------------------------


def _scalar_method(name: str) -> Callable[..., Any]:
    """A method whose result is a number, a bool or a string no longer than 3x its input."""

    def call(run: Run, obj: Any, *args: Any) -> Any:
        return charge(run, getattr(obj, name)(*[hashable(a) for a in args]))

    return call


def _split(name: str) -> Callable[..., Any]:
    def split(run: Run, text: str, sep: str | None = None, maxsplit: int = -1) -> list[str]:
        pieces = (text.count(sep) if sep else len(text) // 2) + 1
        run.charge(_ENTRY * (pieces if maxsplit < 0 else min(pieces, maxsplit + 1)))
        return getattr(text, name)(sep, maxsplit)

    return split


def _splitlines(run: Run, text: str, keepends: bool = False) -> list[str]:
    run.charge(_ENTRY * (len(text) + 1))
    return text.splitlines(keepends)


def _wrapped(wrapper: Callable[[Any], Callable[..., Any]]) -> Callable[..., Any]:
    def call(run: Run, obj: Any, *args: Any) -> Any:
        return charge(run, wrapper(obj)(*args))

    return call


def _searching(name: str) -> Callable[..., Any]:
    """``list.index``/``count``: compare every item with the argument, so both are walked."""

    def call(run: Run, obj: Any, *args: Any) -> Any:
        return getattr(walked(obj), name)(*[walked(a) for a in args])

    return call


def _hashing(name: str) -> Callable[..., Any]:
    """Set algebra and ``dict.get``: hash the arguments' items; the result stays small."""

    def call(run: Run, obj: Any, *args: Any) -> Any:
        for arg in args:
            if isinstance(arg, (list, tuple, set, frozenset, dict)):
                _hashed(arg, f".{name}()")
            else:
                hashable(arg)
        return charge(run, getattr(obj, name)(*args))

    return call


def _copy_method(run: Run, obj: Any) -> Any:
    return charge(run, obj.copy())


def _view(name: str) -> Callable[..., Any]:
    def call(run: Run, obj: dict[Any, Any]) -> Any:
        return getattr(obj, name)()

    return call


_CHANGING: dict[type, list[str]] = {
    dict: ["pop", "setdefault", "update", "clear", "popitem"],
    list: ["append", "extend", "insert", "pop", "remove", "sort", "reverse", "clear"],
    set: ["add", "discard", "remove", "pop"],
}

METHODS: dict[tuple[type, str], Callable[..., Any]] = {
    **{(str, name): _scalar_method(name) for name in sorted(STR_SCALAR_METHODS)},
    (str, "split"): _split("split"),
    (str, "rsplit"): _split("rsplit"),
    (str, "splitlines"): _splitlines,
    (str, "join"): _wrapped(_sized_join),
    (str, "replace"): _wrapped(_sized_replace),
    (dict, "get"): _hashing("get"),
    (dict, "keys"): _view("keys"),
    (dict, "values"): _view("values"),
    (dict, "items"): _view("items"),
    (dict, "copy"): _copy_method,
    (list, "index"): _searching("index"),
    (list, "count"): _searching("count"),
    (list, "copy"): _copy_method,
    (tuple, "index"): _searching("index"),
    (tuple, "count"): _searching("count"),
    **{
        (set, name): _hashing(name)
        for name in ["union", "intersection", "difference", "issubset", "issuperset"]
    },
    (set, "copy"): _copy_method,
    (float, "is_integer"): _scalar_method("is_integer"),
}


def method(obj: Any, name: str) -> Callable[..., Any]:
    """The vetted method ``name`` of ``obj``'s type; a refusal that says why if there is none."""
    found = METHODS.get((type(obj), name))
    if found is not None:
        return found
    if name in _CHANGING.get(type(obj), ()):
        raise Refusal(f"'.{name}' changes a {type(obj).__name__} value; expressions cannot change data")
    raise Refusal(f"attribute '.{name}' on a {type(obj).__name__} value")


__all__ = [
    "FUNCTIONS",
    "MAX_SEQUENCE",
    "METHODS",
    "SCALARS",
    "TYPES",
    "charge",
    "hashable",
    "method",
    "walked",
]
