"""Tokenizer and token normalisation for social text.

Kept as single tokens on purpose: ``@handles``, ``#hashtags``, ``$cashtags``,
URLs and e-mail addresses. Emoji are split off as tokens of their own so they
can carry sentiment. Elongated words ("soooo") keep their text but get a norm
with runs of three or more letters cut to two ("soo"), so "sooo" and
"soooooo" are one feature and taxonomy phrases match them through ``NORM``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from spacy.attrs import IDS, NORM
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc
from spacy.util import compile_prefix_regex, compile_suffix_regex

from engine.nlp.resources import compile_guarded

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
    return _ELONGATION.sub(r"\1\1", lower) if is_elongated(lower) else lower


# Kept whole by the tokenizer: plain words (a run of letters has no prefix,
# suffix or infix to split off, so the three affix searches are skipped),
# handles, hashtags, cashtags and e-mail addresses. One regex, passed as its
# bound ``match`` so spaCy calls C directly for every uncached word.
_TOKEN_MATCH = re.compile(
    r"^(?:[^\W\d_]+|[#@][^\W_][\w]*|@_[\w]+|\$[A-Za-z][A-Za-z.]{0,5}|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)$"
)


class SocialTokenizer(Tokenizer):
    """spaCy's tokenizer that also keeps the text it was given in ``doc.user_data[TEXT_KEY]``.

    ``Doc.text`` rebuilds the string from the tokens in Python on every
    access, which costs more than tokenizing a tweet; components read this.
    """

    def __call__(self, text: str) -> Doc:
        doc = super().__call__(text)
        doc.user_data[TEXT_KEY] = text
        return doc


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
    suffixes = list(defaults.suffixes or [])
    base = nlp.tokenizer
    tokenizer = SocialTokenizer(
        nlp.vocab,
        rules=base.rules,
        prefix_search=compile_prefix_regex(prefixes).search,
        suffix_search=_letter_end_fast_path(_guarded(compile_suffix_regex(suffixes).search)),
        infix_finditer=_alnum_fast_path(_guarded(base.infix_finditer)),
        token_match=_TOKEN_MATCH.match,
        url_match=base.url_match,
        max_cache_size=MAX_CACHED_CHUNKS,
    )
    return tokenizer


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


def lean_lexemes(nlp: Language) -> None:
    """Stop computing, for each new word, lexical attributes nothing in a blank Sift pipeline reads.

    spaCy calls one Python function per attribute when it meets a new word
    (word shape alone loops over the characters) and interns the string
    results: new words were a fifth of all enrichment time. A trained model
    (``SIFT_NLP_MODEL``) uses shape, prefix and suffix as features: call
    this for ``spacy.blank`` only. Token patterns that need a dropped
    attribute are refused when the data files are loaded.
    """
    for name in UNUSED_LEXICAL:
        nlp.vocab.lex_attr_getters.pop(IDS[name], None)


def install(nlp: Language) -> None:
    """Use the social tokenizer and norm on ``nlp`` (lexemes already in the vocab are renormed)."""
    nlp.tokenizer = build_tokenizer(nlp)
    nlp.vocab.lex_attr_getters[NORM] = social_norm
    for lex in nlp.vocab:
        norm = social_norm(lex.orth_)
        if lex.norm_ != norm and not _is_exception_norm(lex.orth_, lex.norm_):
            lex.norm_ = norm


def _is_exception_norm(orth: str, norm: str) -> bool:
    """Tokenizer exceptions ("n't" -> "not") set norms we keep."""
    return norm.isalpha() and orth.lower() != norm and not _ELONGATION.search(orth)
