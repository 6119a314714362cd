"""Upper bounds on what one C call would do, computed before it runs.

A C call (``str()`` of a list, ``%`` formatting, comparing two lists, building a set) cannot be
interrupted once it starts, so the sandbox estimates its cost and result size first and refuses
it when the estimate is over a limit. Every estimate walks at most about ``limit`` items and
stops as soon as it passes the limit, so estimating is itself bounded.
"""

from __future__ import annotations

import re
from collections.abc import ItemsView, KeysView, ValuesView
from typing import Any

from engine.runtime.budget import MAX_SEQUENCE, Refusal

MAX_HASHED = 1_000  # items of a set or dict an expression builds (colliding hashes cost n**2)
_SCALAR_TEXT = 64  # str() of a float, bool or None is at most this long
_CHARS_PER_STEP = 64  # comparing strings: one step of work per this many characters
_Views = tuple[type[KeysView[Any]], type[ValuesView[Any]], type[ItemsView[Any, Any]]]
VIEWS: _Views = (type({}.keys()), type({}.values()), type({}.items()))  # dict_keys, dict_values, dict_items


def weight(value: Any, limit: int) -> int:
    """Work C code does walking ``value`` (items, plus characters / 64); stops past ``limit``."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        total += 1
        if type(item) is str:
            total += len(item) // _CHARS_PER_STEP
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset, *VIEWS)):
            stack.extend(item)
        if total > limit:
            return total
    return total


def rendered_size(value: Any, limit: int, quoted: bool = False) -> int:
    """An upper bound of ``len(str(value))`` (``repr`` if ``quoted``); stops past ``limit``."""
    total = 0
    stack: list[tuple[Any, bool]] = [(value, quoted)]
    while stack:
        item, as_repr = stack.pop()
        total += _scalar_size(item, as_repr)
        if isinstance(item, dict):
            stack.extend((k, True) for k in item)
            stack.extend((v, True) for v in item.values())
            total += 4 * len(item)
        elif isinstance(item, (list, tuple, set, frozenset, *VIEWS)):
            stack.extend((v, True) for v in item)
            total += 2 * len(item) + 16
        if total > limit:
            return total
    return total


def _scalar_size(item: Any, as_repr: bool) -> int:
    if type(item) is str:
        if not as_repr:
            return len(item)
        return 2 + len(item) * (4 if item.isascii() else 10)  # escapes: \x00 or \U0010ffff
    if type(item) is int:
        return item.bit_length() // 3 + 2  # octal, decimal or hex digits, plus a sign
    if isinstance(item, (dict, list, tuple, set, frozenset, range, *VIEWS)):
        return 16  # brackets and a type name such as dict_keys(...) or range(a, b, c)
    return _SCALAR_TEXT


# %[(key)][flags][width][.precision][length]type
_CONVERSION = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?(?P<type>.)", re.S
)


def formatted_size(template: str, args: Any) -> int:
    """An upper bound of ``len(template % args)``; refuses ``*`` and widths of 1000 or more."""
    total = len(template)
    position = 0
    for match in _CONVERSION.finditer(template):
        width, precision, kind = match["width"], match["precision"], match["type"]
        if kind == "%":
            continue
        if "*" in (width, precision) or max(len(width or ""), len(precision or "")) > 3:
            raise Refusal("'%' formatting with a width or precision of 1000 or more, or '*'")
        if match["key"] is not None:
            item = args.get(match["key"]) if isinstance(args, dict) else None
        elif isinstance(args, tuple):
            item = args[position] if position < len(args) else None
            position += 1
        else:
            item = args
        pad = max(int(width or 0), int(precision or 0))
        total += pad + (1 if kind == "c" else rendered_size(item, MAX_SEQUENCE, kind in "ra"))
        if isinstance(item, float) and kind in "diouxXfF":
            total += 310  # '%f' % 1e308 and '%d' % 1e308 spell out every digit
        if total > MAX_SEQUENCE:
            return total
    return total


def check_formatting(template: str, args: Any) -> int:
    """The bound of ``template % args``; refuses text that would pass ``MAX_SEQUENCE``."""
    size = formatted_size(template, args)
    if size > MAX_SEQUENCE:
        raise Refusal(f"'%' formatting would build a string longer than {MAX_SEQUENCE}")
    return size


def check_rendered(value: Any, what: str, quoted: bool = False) -> int:
    """The bound of ``str(value)``; refuses values whose text would pass ``MAX_SEQUENCE``."""
    size = rendered_size(value, MAX_SEQUENCE, quoted)
    if size > MAX_SEQUENCE:
        raise Refusal(f"{what} would build a string longer than {MAX_SEQUENCE}")
    return size
