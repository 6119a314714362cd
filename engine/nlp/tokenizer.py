"""Tokenizer and token normalisation for social text.

Kept as single tokens on purpose: ``@handles``, ``#hashtags``, ``$cashtags``,
URLs and e-mail addresses. Emoji are split off as tokens of their own so they
can carry sentiment. Elongated words ("soooo") keep their text but get a norm
with runs of three or more letters cut to two ("soo"), so "sooo" and
"soooooo" are one feature and taxonomy phrases match them through ``NORM``.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, cast

from spacy.attrs import IDS, NORM
from spacy.lang import lex_attrs
from spacy.lang.tokenizer_exceptions import URL_PATTERN
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_prefix_regex, compile_suffix_regex
from spacy.vocab import Vocab
from thinc.types import Ints2d

from engine.nlp.resources import compile_guarded, last_char_class, regex_branches

try:  # CPython's own regex parser, as in ``resources``
    from re import _constants as sre  # type: ignore[attr-defined]  # typeshed has no re._constants
    from re import _parser  # type: ignore[attr-defined]  # nor re._parser (only the old sre_parse)
except ImportError:  # pragma: no cover - other Pythons
    sre = _parser = None

_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")
_TRIPLED = re.compile(r"(.)\1\1", re.DOTALL)
_HANDLE_PUNCT = re.compile(r"^@\w+")
_DIGIT_OR_APOSTROPHE = re.compile(r"[\d'\u2019`]")

# spaCy caches at most 10,000 chunks by default: the start-up word list alone
# filled that, and every chunk met afterwards was split again on each visit.
# The cache holds only pointers to lexemes (tens of bytes a chunk); the
# pipeline is rebuilt when its strings pass ``MAX_STRINGS``, which bounds it.
MAX_CACHED_CHUNKS = 500_000
TEXT_KEY = "sift_text"
HANDLE_NORM = "@user"
URL_NORM = "http"


def is_elongated(text: str) -> bool:
    """A letter three times in a row ("soooo").

    Any character tripled is looked for first: a necessary condition, and
    five times cheaper to scan for (the letter test looks up the Unicode
    category at every position).
    """
    return _TRIPLED.search(text) is not None and _ELONGATION.search(text) is not None


def social_norm(text: str) -> str:
    """The norm of one token: lower case, handles and URLs collapsed, elongations cut."""
    lower = text.lower()
    if lower.startswith("@") and len(lower) > 1:
        return HANDLE_NORM
    if _URL.match(lower):
        return URL_NORM
    if _TRIPLED.search(lower) is None:  # not elongated (``is_elongated``), without its call
        return lower
    return _ELONGATION.sub(r"\1\1", lower) if _ELONGATION.search(lower) else lower


# Kept whole by the tokenizer: plain words (a run of letters has no prefix,
# suffix or infix to split off, so the three affix searches are skipped),
# handles, hashtags, cashtags and e-mail addresses. One regex, passed as its
# bound ``match`` so spaCy calls C directly for every uncached word.
_TOKEN_MATCH = re.compile(
    r"^(?:[^\W\d_]+|[#@][^\W_][\w]*|@_[\w]+|\$[A-Za-z][A-Za-z.]{0,5}|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)$"
)


# spaCy strips affixes from a chunk (a run without whitespace) one at a time,
# calling Python for each and hashing and slicing the rest of the chunk every
# time: a chunk of n characters that is mostly affixes (":):):)...", "a)))...")
# costs n * n, seconds for a few thousand characters. A chunk longer than this
# is split by one regex instead (``_split_long``). The longest chunk in the
# 28,618 tweets of /work/shared/data has 96 characters.
MAX_CHUNK = 256
_LONG_CHUNK = re.compile(rf"(?<!\S)\S{{{MAX_CHUNK + 1},}}")  # tried only where a chunk starts: one pass
# URLs whole, then words (with a leading # or @), then any other character alone.
_LONG_CHUNK_PARTS = re.compile(r"(?:https?://|www\.)\S+|[#@]?[^\W_]+|\S", re.IGNORECASE)

# A chunk of symbols only (no letter, digit or "_") costs spaCy one pass of its affix loop per
# character or two, and each pass calls Python: 20,000 characters of such chunks took 55-75 ms.
# The first SYMBOL_BUDGET characters of chunks of at least MIN_SYMBOL_RUN symbols in a text
# are tokenized by spaCy's rules; later ones are split by ``_LONG_CHUNK_PARTS`` (each symbol
# alone), as a chunk over MAX_CHUNK is. Repeating symbols adds no meaning to a mention, and
# only a text longer than the budget can reach it: the 28,618 tweets of /work/shared/data hold
# 75 such chunks, the longest of 23 characters, the most in one tweet well under the budget.
SYMBOL_BUDGET = 1_000
MIN_SYMBOL_RUN = 8
_SYMBOL_RUN = re.compile(rf"(?<!\S)[^\s\w]{{{MIN_SYMBOL_RUN},}}+(?!\S)")


class SocialTokenizer(Tokenizer):
    """spaCy's tokenizer that also keeps the text it was given in ``doc.user_data[TEXT_KEY]``.

    ``Doc.text`` rebuilds the string from the tokens in Python on every
    access, which costs more than tokenizing a tweet; components read this.
    Chunks longer than ``MAX_CHUNK`` characters are split by ``_LONG_CHUNK_PARTS``
    rather than by spaCy's affix rules, so the cost of a text stays linear in its length.
    ``long_chars`` counts the characters of the tokens longer than ``MAX_CHUNK`` made that
    way: each stays in the string store, and ``engine.nlp.current_pipeline`` bounds them.
    """

    long_chars = 0

    def __call__(self, text: str) -> Doc:
        spans = _regex_split_spans(text) if len(text) > MAX_CHUNK else None
        doc = self._split_long(text, spans) if spans else super().__call__(text)
        doc.user_data[TEXT_KEY] = text
        return doc

    def _split_long(self, text: str, spans: list[tuple[int, int]]) -> Doc:
        """The doc of ``text``: spaCy's tokens between ``spans``, ``_LONG_CHUNK_PARTS`` within them.

        The text between long chunks is tokenized by spaCy as it would be
        in the whole text (every cut is at whitespace; the one space after a
        chunk belongs to its last token, as spaCy does it), token norms
        (``"n't"`` -> ``"not"``) included.
        """
        words: list[str] = []
        spaces: list[bool] = []
        norms: list[tuple[int, Any]] = []  # (first token, NORM column) of each stretch spaCy tokenized
        tokenize = super().__call__
        at = 0
        for start, end in spans:
            if start > at:
                self._append(tokenize(text[at:start]), words, spaces, norms)
            parts = _LONG_CHUNK_PARTS.findall(text, start, end)
            self.long_chars += sum([len(part) for part in parts if len(part) > MAX_CHUNK])
            words.extend(parts)
            spaces.extend([False] * len(parts))
            if text[end : end + 1] == " ":
                spaces[-1] = True
                end += 1
            at = end
        if at < len(text):
            self._append(tokenize(text[at:]), words, spaces, norms)
        doc = Doc(self.vocab, words=words, spaces=spaces)
        if norms:
            column = doc.to_array([NORM])
            for first, stretch in norms:
                column[first : first + len(stretch)] = stretch
            # spaCy's doc.pyi types to_array as float64; it returns the uint64 attribute values from_array takes
            doc.from_array([NORM], cast(Ints2d, column))
        return doc

    @staticmethod
    def _append(doc: Doc, words: list[str], spaces: list[bool], norms: list[tuple[int, Any]]) -> None:
        norms.append((len(words), doc.to_array([NORM])))
        words.extend(t.text for t in doc)
        spaces.extend(bool(t.whitespace_) for t in doc)


def _regex_split_spans(text: str) -> list[tuple[int, int]]:
    """The chunks of ``text`` that ``_LONG_CHUNK_PARTS`` splits, in order: those over ``MAX_CHUNK``
    characters, and the symbol runs after the first ``SYMBOL_BUDGET`` characters of them."""
    spans = [m.span() for m in _LONG_CHUNK.finditer(text)]
    if len(text) <= SYMBOL_BUDGET:
        return spans
    spent = 0
    over = []
    for run in _SYMBOL_RUN.finditer(text):
        start, end = run.span()
        spent += end - start
        if spent > SYMBOL_BUDGET and end - start <= MAX_CHUNK:  # longer ones are in ``spans`` already
            over.append((start, end))
    return sorted(spans + over) if over else spans


def doc_text(doc: Doc) -> str:
    """The doc's text, without rebuilding it when the social tokenizer kept it."""
    text = doc.user_data.get(TEXT_KEY)
    return doc.text if text is None else text


def build_tokenizer(nlp: Language) -> Tokenizer:
    """A copy of the language's tokenizer that keeps social tokens whole.

    ``#`` and ``@`` are removed from the prefixes so they stay on the word;
    the token match then keeps ``#tag``, ``@handle`` and ``$TSLA`` whole even
    when punctuation follows ("#fail!!" gives "#fail", "!", "!").
    """
    defaults = nlp.Defaults
    prefixes = [p for p in (defaults.prefixes or []) if p not in ("#", "@", r"\#", r"\@")]
    suffix_rules = list(defaults.suffixes or [])
    suffixes = compile_suffix_regex(suffix_rules)
    full_search = _guarded(suffixes.search)
    base = nlp.tokenizer
    if not isinstance(base, Tokenizer):  # Language types it as any callable; its rules are read here
        raise TypeError(f"the social tokenizer is built from a spaCy Tokenizer, not {type(base).__name__}")
    tokenizer = SocialTokenizer(
        nlp.vocab,
        rules=base.rules,
        prefix_search=_anchored_match(compile_prefix_regex(prefixes)),
        suffix_search=_letter_end_fast_path(
            _last_char_dispatch(suffix_rules, full_search)
            or _split_suffix_search(suffix_rules, full_search)
            or _tail_search(full_search, suffixes.pattern)
        ),
        infix_finditer=_alnum_fast_path(_guarded(base.infix_finditer)),
        token_match=_TOKEN_MATCH.match,
        url_match=_linear_url_match(base.url_match),
        max_cache_size=MAX_CACHED_CHUNKS,
    )
    return tokenizer


def _anchored_match(regex: re.Pattern[str]) -> Callable[[str], Any]:
    """``regex.match`` when every alternative starts with ``^`` (the same result as ``search``), else ``search``.

    ``search`` tries every position of the chunk against every prefix rule
    even though only the first can match; spaCy calls it once per affix it
    strips, so a chunk of many prefixes cost its length squared.
    """
    branches = regex_branches(regex.pattern)
    if branches and all(branch.anchored_at_start for branch in branches):
        return regex.match
    return regex.search


def _tail_search(search: Callable[..., Any], pattern: str) -> Callable[[str], Any]:
    """``search`` for a suffix regex, tried over the end of the text first, then over a window 4x wider.

    Every alternative of spaCy's suffix regex ends in ``$``; tried from every
    position of a long chunk, one search cost the chunk's length, and spaCy
    searches once per suffix it strips. The leftmost match is the same: the
    window is twice as long as the longest bounded alternative (5 characters
    in English), which can only start inside it, and the one unbounded kind
    (a run of one character, "\\.\\.+$") has a match at the window's first
    position whenever it has one further left, which is when the window
    widens. A pattern with any other unbounded alternative is searched as written.
    """
    branches = regex_branches(pattern)
    if not branches:
        return search
    bounded = [b.max_width for b in branches if not b.char_run_at_end]
    window = 2 * max(bounded, default=1)
    if window > _MAX_SUFFIX_WINDOW:
        return search

    def tail_search(text: str) -> Any:
        size = window
        while size < len(text):
            start = len(text) - size
            match = search(text, start)
            if match is None or match.start() > start:
                return match
            size *= 4
        return search(text)

    return tail_search


_MAX_SUFFIX_WINDOW = 64  # a suffix rule longer than 32 characters: the regex is searched as written


def _split_suffix_search(
    rules: Sequence[str | re.Pattern[str]], full_search: Callable[[str], Any]
) -> Callable[[str], Any] | None:
    """A search for spaCy's suffix regex (``rule1$|rule2$|...``) that tries each rule only where it can start.

    Every match of that regex ends at the end of the text, so the leftmost
    one starts at the smallest position where any one rule matches to the
    end. A rule of bounded width w..W can only start at ``len - W`` ..
    ``len - w``: rules are grouped by each width they can have, and the
    groups are matched at their one position, widest first (lookbehinds
    still see the text before it). Unbounded rules (a run of dots) keep the
    search over the tail (``_tail_search``). The result has the span the
    full search finds; a text ending in a newline, where ``$`` also matches
    before it, gets the full search. The full regex tried every rule at
    every position of the tail: 3-4 us a call, and spaCy calls it once per
    affix it strips. None when a rule cannot be read this way (the callers
    then search as written).
    """
    if _parser is None:
        return None
    plain: dict[int, list[str]] = {}
    guarded: dict[int, list[str]] = {}
    unbounded: list[str] = []
    try:
        for rule in rules:
            if not isinstance(rule, str):  # a compiled rule: spaCy's own suffix regex cannot join it either
                return None
            if not rule.strip():
                continue
            parsed = _parser.parse(rule + "$")
            if parsed.data[-1] != (sre.AT, sre.AT_END) or parsed.data[0][0] is sre.BRANCH:
                return None
            low, high = parsed.getwidth()
            if high > _MAX_SUFFIX_WINDOW:
                unbounded.append(rule)
                continue
            asserted = any(op in (sre.ASSERT, sre.ASSERT_NOT) for op, _ in parsed.data)
            for width in range(max(low, 1), high + 1):
                (guarded if asserted else plain).setdefault(width, []).append(rule)
        groups = [
            (width, re.compile("|".join(f"(?:{rule})$" for rule in group[width])).match)
            for width in sorted({*plain, *guarded}, reverse=True)
            for group in (plain, guarded)
            if width in group
        ]
        rest = "|".join(f"(?:{rule})$" for rule in unbounded)
        rest_search = _tail_search(re.compile(rest).search, rest) if rest else None
    except (re.error, TypeError, ValueError, AttributeError, IndexError):
        return None

    def split_suffix_search(text: str) -> Any:
        if text[-1:] == "\n":
            return full_search(text)
        end = len(text)
        found = rest_search(text) if rest_search is not None else None
        for width, match in groups:
            if width > end or (found is not None and found.start() <= end - width):
                continue
            hit = match(text, end - width)
            if hit is not None:
                return hit
        return found

    return split_suffix_search


def _last_char_dispatch(
    rules: Sequence[str | re.Pattern[str]], full_search: Callable[[str], Any]
) -> Callable[[str], Any] | None:
    """The suffix search over only the rules that can end with the text's last character.

    Every suffix match ends at the end of the text, so a rule whose matches
    cannot end with its last character (``resources.last_char_class``) cannot
    match; rules whose last characters cannot be told are always kept. The
    rules kept for a character are searched with ``_split_suffix_search``
    (one searcher per distinct set of rules, a few dozen at most), and when
    none is left there is no suffix: "w2x0" or "555-0100" ends in a digit, which
    no English suffix does, and was searched with every rule of its width
    (3 us a word, the most expensive step of a word the tokenizer had not seen).
    A text ending in a newline (where ``$`` also matches before it) gets the
    full search. None when a rule is not a string (the callers then search as
    written).
    """
    if not all(isinstance(rule, str) for rule in rules):
        return None
    kept = [rule for rule in rules if isinstance(rule, str) and rule.strip()]
    ends = [last_char_class(rule) for rule in kept]
    searchers: dict[tuple[int, ...], Callable[[str], Any] | None] = {}
    by_char: dict[str, Callable[[str], Any] | None] = {}

    def searcher(char: str) -> Callable[[str], Any] | None:
        chosen = tuple(i for i, end in enumerate(ends) if end is None or end.match(char))
        if chosen not in searchers:
            group = [kept[i] for i in chosen]
            searchers[chosen] = (_split_suffix_search(group, full_search) or full_search) if group else None
        found = searchers[chosen]
        if len(by_char) < _MAX_DISPATCH_CHARS:
            by_char[char] = found
        return found

    def last_char_search(text: str) -> Any:
        char = text[-1:]
        if not char or char == "\n":
            return full_search(text)
        found = by_char[char] if char in by_char else searcher(char)
        return None if found is None else found(text)

    return last_char_search


_MAX_DISPATCH_CHARS = 20_000  # characters whose searcher is remembered; others choose it again (a few us)


def _linear_url_match(url_match: Callable[[str], Any] | None) -> Callable[[str], Any] | None:
    """spaCy's URL regex with its user-info part ``\\S+(?::\\S*)?@`` written ``\\S+@``.

    Both accept the same strings (``:`` is a non-space character) and give the
    same match, but the original backtracks through every ``:`` of a chunk
    with no ``@``: "a:a:a:..." of a few thousand characters took 40 ms.
    """
    regex = getattr(url_match, "__self__", None)
    if not isinstance(regex, re.Pattern) or _USER_INFO not in regex.pattern:
        return url_match
    match = re.compile(regex.pattern.replace(_USER_INFO, r"(?:\S+@)?"), regex.flags).match
    if regex.pattern != "(?u)" + URL_PATTERN:
        return match

    def dotted_url_match(text: str) -> Any:
        # every match of spaCy's URL_PATTERN holds a ".": its host is a dotted IP address or names
        # ending in "." before the top-level domain; most words have none and skip the regex (0.8 us)
        return match(text) if "." in text else None

    return dotted_url_match


_USER_INFO = r"(?:\S+(?::\S*)?@)?"


def _guarded(method: Callable[[str], Any]) -> Callable[[str], Any]:
    """The same method (``search``, ``finditer``) of the same regex behind a first-character guard.

    spaCy's suffix and infix regexes are long alternations tried at every
    position of a word; the guard (``resources.with_first_char_guard``)
    rejects most positions in one test and finds the same matches.
    """
    regex = getattr(method, "__self__", None)
    if not isinstance(regex, re.Pattern):
        return method
    return getattr(compile_guarded(regex.pattern, regex.flags), method.__name__)


def _letter_end_fast_path(search: Callable[[str], Any]) -> Callable[[str], Any]:
    """``search`` for suffixes, skipped for strings that end in a letter and hold no digit or apostrophe.

    Such strings have no suffix in spaCy's English rules (letter suffixes
    are "'s" and units after a number), and the suffix regex, anchored at
    the end, is tried from every position: the most expensive step for a
    word the tokenizer has not cached.
    """

    def suffix_search(text: str) -> Any:
        if text[-1:].isalpha() and not _DIGIT_OR_APOSTROPHE.search(text):
            return None
        return search(text)

    return suffix_search


def _alnum_fast_path(finditer: Callable[[str], Any]) -> Callable[[str], Any]:
    """``finditer`` for infixes, skipped for letters and digits only (every infix is a symbol)."""

    def infix_finditer(text: str) -> Any:
        return iter(()) if text.isalnum() else finditer(text)

    return infix_finditer


UNUSED_LEXICAL = (
    "PREFIX",
    "SUFFIX",
    "SHAPE",
    "IS_LOWER",
    "IS_TITLE",
    "IS_SPACE",
    "IS_ASCII",
    "IS_BRACKET",
    "IS_QUOTE",
    "IS_LEFT_PUNCT",
    "IS_RIGHT_PUNCT",
    "IS_CURRENCY",
    "LIKE_URL",
    "LIKE_EMAIL",
    "LIKE_NUM",
    "IS_DIGIT",
    "LANG",
)


def lex_attr_getters(vocab: Vocab) -> dict[int, Callable[[str], Any]]:
    """The vocab's functions computing each lexical attribute of a new word, by attribute ID."""
    return vocab.lex_attr_getters  # type: ignore[attr-defined]  # public in vocab.pxd, missing from vocab.pyi


def lean_lexemes(nlp: Language) -> None:
    """Stop computing, for each new word, lexical attributes nothing in a blank Sift pipeline reads.

    spaCy calls one Python function per attribute when it meets a new word
    (word shape alone loops over the characters) and interns the string
    results: new words were a fifth of all enrichment time. A trained model
    (``SIFT_NLP_MODEL``) uses shape, prefix and suffix as features: call
    this for ``spacy.blank`` only. Token patterns that need a dropped
    attribute are refused when the data files are loaded.
    """
    getters = lex_attr_getters(nlp.vocab)
    for name in UNUSED_LEXICAL:
        getters.pop(IDS[name], None)
    for name, method, spacy_getter in _STR_METHODS:
        if getattr(getters.get(IDS[name]), "__code__", None) is spacy_getter.__code__:
            getters[IDS[name]] = method
    if getattr(getters.get(IDS["IS_PUNCT"]), "__code__", None) is lex_attrs.is_punct.__code__:
        getters[IDS["IS_PUNCT"]] = punctuation_chars().issuperset


@cache
def punctuation_chars() -> frozenset[str]:
    """Every character of a Unicode category P*: ``issuperset(text)`` is spaCy's ``is_punct(text)``
    (all characters punctuation, True for ""), computed in C instead of a Python loop per character."""
    return frozenset(
        c for c in map(chr, range(sys.maxunicode + 1)) if unicodedata.category(c).startswith("P")
    )


# spaCy's getters that only call one str method: the method itself gives the same value without
# a Python frame per new word.
_STR_METHODS: tuple[tuple[str, Callable[[str], Any], Callable[[str], Any]], ...]
_STR_METHODS = (("LOWER", str.lower, lex_attrs.lower), ("IS_ALPHA", str.isalpha, lex_attrs.is_alpha))
_STR_METHODS += (("IS_UPPER", str.isupper, lex_attrs.is_upper),)


def install(nlp: Language) -> None:
    """Use the social tokenizer and norm on ``nlp`` (lexemes already in the vocab are renormed)."""
    nlp.tokenizer = build_tokenizer(nlp)
    lex_attr_getters(nlp.vocab)[NORM] = social_norm
    for lex in nlp.vocab:
        norm = social_norm(lex.orth_)
        if lex.norm_ != norm and not _is_exception_norm(lex.orth_, lex.norm_):
            lex.norm_ = norm


def _is_exception_norm(orth: str, norm: str) -> bool:
    """Tokenizer exceptions ("n't" -> "not") set norms we keep."""
    return norm.isalpha() and orth.lower() != norm and not _ELONGATION.search(orth)
