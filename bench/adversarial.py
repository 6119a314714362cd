"""Texts shaped to find super-linear steps in enrichment: ``SHAPES[name](size, salt)``.

Each shape gives a text of exactly ``size`` characters. ``salt`` goes into
the text so that each call gives text the tokenizer has not cached (a
repeated text would be timed from spaCy's chunk cache). Shapes cover long
runs of handles, hashtags, URLs, emoji, elongated words, catalogue names,
order numbers, e-mail addresses, keywords the rule regexes start on, one
token of the whole size, whitespace and newlines, and chunks made of affixes.
Used by ``bench/nlp.py`` (worst and median time at the maximum size) and by
``tests/nlp/test_linear.py`` (time at size N against 4N).
"""

from __future__ import annotations

import random
from collections.abc import Callable


def _fill(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _distinct(make: Callable[[int], str], size: int) -> str:
    """``make(0) + make(1) + ...`` cut to ``size``."""
    parts, total, i = [], 0, 0
    while total < size:
        part = make(i)
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts)[:size]


def _letters(i: int) -> str:
    """``i`` written in the letters a-z (a word with no digit)."""
    out = ""
    while True:
        out = chr(97 + i % 26) + out
        i //= 26
        if not i:
            return out


def _random_chunks(size: int, salt: int, alphabet: str, length: int) -> str:
    rng = random.Random(salt)
    return _distinct(lambda i: "".join(rng.choice(alphabet) for _ in range(length)) + " ", size)


def _ending(head: str, fill: str, tail: str, size: int) -> str:
    """``head``, then ``fill`` repeated, then ``tail``: ``size`` characters."""
    return head + _fill(fill, size - len(head) - len(tail)) + tail


def _salted(body: Callable[[int], str]) -> Callable[[int, int], str]:
    """A shape whose text starts with a word of its own (the salt), then ``body``."""

    def shape(size: int, salt: int) -> str:
        head = f"s{salt} "
        return (head + body(size))[:size]

    return shape


SHAPES: dict[str, Callable[[int, int], str]] = {
    "ordinary text": _salted(lambda n: _fill("@acme my order #A12345 is late, not good at all :( ", n)),
    "same handle": _salted(lambda n: _fill("@acme ", n)),
    "distinct handles": lambda n, salt: _distinct(lambda i: f"@u{salt}x{i} ", n),
    "same hashtag": _salted(lambda n: _fill("#fail ", n)),
    "distinct hashtags": lambda n, salt: _distinct(lambda i: f"#t{salt}x{i} ", n),
    "distinct urls": lambda n, salt: _distinct(lambda i: f"https://t.co/{salt}x{i} ", n),
    "catalogue names": _salted(lambda n: _fill("galaxy note 7 acme phone acme plus @acme #uber ", n)),
    "emoji run": lambda n, salt: _fill(f"{salt}\U0001f621", n),
    "spaced emoji": _salted(lambda n: _fill("\U0001f621 \U0001f602 ", n)),
    "elongated word": lambda n, salt: f"s{_letters(salt)}" + "o" * (n - 1 - len(_letters(salt))),
    "distinct elongated words": lambda n, salt: _distinct(
        lambda i: f"so{'o' * (i % 7)}oo{_letters(salt * n + i)} ", n
    ),
    "one letter token": lambda n, salt: (f"{_letters(salt)}" + "a" * n)[:n],
    "one digit token": lambda n, salt: (f"{salt}" + "1" * n)[:n],
    "newlines": _salted(lambda n: "\n" * n),
    "words and newlines": lambda n, salt: _distinct(lambda i: f"w{salt}x{i}\n", n),
    "exclamation run": lambda n, salt: (f"{_letters(salt)}" + "!" * n)[:n],
    "emoticon run": lambda n, salt: (f"{_letters(salt)}" + ":)" * n)[:n],
    "closing brackets": lambda n, salt: (f"{_letters(salt)}" + ")" * n)[:n],
    "affix chunks": lambda n, salt: _random_chunks(n, salt, "()[]{}<>\"'!?,;:.…«»$%#*&", 250),
    "emoticon chunks": lambda n, salt: _random_chunks(n, salt, ":);(", 250),
    "short affix chunks": lambda n, salt: _random_chunks(n, salt, "()[]\"'!?,;:.$%", 20),
    "colons": lambda n, salt: (f"{_letters(salt)}" + "a:" * n)[:n],
    "order numbers": lambda n, salt: _distinct(lambda i: f"order {salt}{i:05d} ", n),
    "spaces after order": lambda n, salt: _ending(f"s{salt} order", " ", "!1", n),
    "spaces after tracking": lambda n, salt: _ending(f"s{salt} tracking", " ", "!1", n),
    "phone numbers": lambda n, salt: _distinct(lambda i: f"555-{salt % 1000:03d}-{i % 10000:04d} ", n),
    "e-mail addresses": lambda n, salt: _distinct(lambda i: f"a{i}@x{salt}.co ", n),
    "local part before @": lambda n, salt: (f"{_letters(salt)}" + "a" * n)[: n - 6] + " @x.co",
    "money": _salted(lambda n: _fill("$5 ", n)),
    "digits and commas": _salted(lambda n: "$ " + _fill("1,", n)),
    "so so expensive": _salted(lambda n: "@acme " + _fill("so ", n)),
    "who says": _salted(lambda n: "@acme " + _fill("who says ", n)),
    "wasted": _salted(lambda n: "@acme " + _fill("wasted ", n)),
    "love how": _salted(lambda n: "@acme " + _fill("love how ", n)),
}
