"""Hashed sparse features for the sentiment model, shared by training and runtime.

Work is done per batch of docs, not per token: the norms of all tokens in
the batch are read with one ``to_array`` per doc, each distinct norm is
looked up once in a table (its unigram index, character n-grams, lexicon
valence, negator flag are computed the first time the norm is seen), and
the rest is numpy over the whole batch. Features:

- unigram of the token norm; inside a negation scope (up to three tokens
  after "not", "never", "no"... and before punctuation) a separate
  "negated" unigram and no character n-grams, so "not good" does not look
  like "good"; a negator whose scope holds a word of negative valence
  ("not bad", "never disappoints") has its own "turned" unigram and no
  n-grams, so the weight "not" learns from "not good" and "not working"
  does not make "not bad" negative;
- bigram of adjacent norms;
- character 3..5-grams of the norm (outside negation scopes);
- dense cues: VADER lexicon positive/negative mass (negation flips it),
  negated positive and negated negative mass, the mass after a final
  "but" (it outweighs what came before), emoji valence, "!"/"?"
  counts, elongations, all-caps words, the brand-care "unresolved" cue
  count set by the cue matcher.

``FeatureBatch.coo`` gives the features as (doc, index, value) triplets
for training; ``sentiment.SentimentScorer`` sums per-norm logits instead,
which is the same linear function computed faster.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np
import vaderSentiment
from spacy import strings as spacy_strings
from spacy.attrs import IS_PUNCT, IS_UPPER, NORM
from spacy.tokens import Doc

from engine.nlp.tokenizer import is_elongated

# spaCy's 64-bit MurmurHash of a string, the IDs of its StringStore (a cpdef in strings.pyx)
hash_string: Callable[[str], int] = spacy_strings.hash_string  # type: ignore[attr-defined]  # missing from strings.pyi

N_HASHED = 1 << 18
TOKEN_ATTRS = [NORM, IS_PUNCT, IS_UPPER]  # the columns ``Featurizer.batch`` reads, in this order
DENSE_NAMES = (
    "bias",
    "lex_pos",
    "lex_neg",
    "lex_compound",
    "n_pos",
    "n_neg",
    "exclaim",
    "question",
    "elongated",
    "all_caps",
    "unresolved",
    "negations",
    "negated_pos",
    "negated_neg",
    "contrast_pos",
    "contrast_neg",
)
N_DENSE = len(DENSE_NAMES)
N_FEATURES = N_HASHED + N_DENSE
_MASK = np.uint64(N_HASHED - 1)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM_SALT = np.uint64(0x632BE59BD9B4E019)
_GRAM_SALT = 7
_TURNED_SALT = 3
_SALT_SPREAD = 0xD6E8FEB86659FD93  # odd: distinct salts give distinct 64-bit words
NEGATORS = frozenset(
    [
        "not",
        "no",
        "never",
        "nothing",
        "nobody",
        "none",
        "neither",
        "nor",
        "cannot",
        "without",
        "hardly",
        "barely",
        "isnt",
        "wasnt",
        "dont",
        "didnt",
        "doesnt",
        "cant",
        "couldnt",
        "wont",
        "wouldnt",
        "shouldnt",
        "aint",
        "havent",
        "hasnt",
        "arent",
    ]
)
CONTRASTS = frozenset(["but", "however", "though", "although", "yet"])
NEGATION_SCOPE = 3
NEGATION_FLIP = -0.74
_ELONGATED = re.compile(r"([^\W\d_])\1{2,}")
_TRIPLED = re.compile(r"(.)\1\1", re.DOTALL)  # a necessary condition of ``is_elongated``
_VADER_DIR = Path(vaderSentiment.__file__).parent


def _hashed_index(values: np.ndarray, salt: int) -> np.ndarray:
    """Feature index (0..N_HASHED) of each uint64 hash: multiply-shift of the hash XOR a word spread from ``salt``.

    The salt is spread over all 64 bits and mixed in before the multiply,
    so each salt is its own hash function. (Adding a small salt after the
    multiply, as before, changed only bits the shift drops: negated unigrams
    shared the plain word's index.)
    """
    salted = values ^ np.uint64((salt * _SALT_SPREAD) % (1 << 64))
    return ((salted * _MIX) >> np.uint64(20) & _MASK).astype(np.int64)


@lru_cache(maxsize=512)
def _gram_slices(length: int) -> tuple[slice, ...]:
    """Slices of every character 3-, 4- and 5-gram of a string of ``length`` characters."""
    return tuple(slice(i, i + n) for n in (3, 4, 5) for i in range(length - n + 1))


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """VADER's word valences, plus emoji scored by the words of their description."""
    lexicon: dict[str, float] = {}
    for line in (_VADER_DIR / "vader_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lexicon[parts[0]] = float(parts[1])
    emoji: dict[str, float] = {}
    for line in (_VADER_DIR / "emoji_utf8_lexicon.txt").read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) == 2:
            score = sum(lexicon.get(w, 0.0) for w in parts[1].split())
            if score:
                emoji[parts[0]] = score
    lexicon.update(emoji)
    return lexicon


# Rows hold their n-gram indices (8 bytes each with the row, and a logit row per norm in ``NormLogits``):
# a tweet's norm has a few dozen, a 20,000-character word 60,000. The table starts over
# when it holds more than this many (some 80 MB), as it does past ``max_rows`` rows.
MAX_TABLE_GRAMS = 10_000_000


# (unigram, negated unigram, valence, negator, contrast) of every row: ``NormTable.columns``
_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class NormTable:
    """Per-norm facts, one row per distinct norm seen, as growing numpy columns.

    Rows are never renumbered while the table lives; ``clear`` starts over
    (``generation`` tells holders of derived tables to drop them) when a
    batch would pass ``max_rows`` rows or the table holds over ``max_grams``
    n-grams. Clearing changes no feature: rows are computed again when met.
    """

    def __init__(self, max_rows: int = 200_000, max_grams: int = MAX_TABLE_GRAMS) -> None:
        self._lexicon = vader_lexicon()
        self.max_rows = max_rows
        self.max_grams = max_grams
        self.generation = 0
        self.clear()

    def clear(self) -> None:
        self.rows: dict[int, int] = {}
        self._unigram: list[int] = []
        self._negated: list[int] = []
        # The n-grams of the rows of each ``add``: (first row, feature indices, row of each), int32, in no
        # particular order within a row; ``_ordered`` keeps each chunk sorted by row then index once asked.
        self._chunks: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # (first row, rows, indices, rows)
        self._chunk_firsts: list[int] = []
        self._ordered: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._valence: list[float] = []
        self._negator: list[bool] = []
        self._contrast: list[bool] = []
        self._frozen = 0
        self._cols: _Columns = (
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.float64),
            np.zeros(0, dtype=bool),
            np.zeros(0, dtype=bool),
        )
        self._sorted_norms = np.zeros(0, dtype=np.uint64)
        self._sorted_rows = np.zeros(0, dtype=np.int64)
        self._unsorted: list[np.ndarray] = []  # norm hashes of the rows added since
        self.n_grams = 0
        self.generation += 1

    def __len__(self) -> int:
        return len(self._unigram)

    def lookup(self, norms: np.ndarray, strings) -> np.ndarray:
        """Row of each norm hash (uint64 array), adding rows for norms not seen before.

        Known norms are found by binary search in a sorted copy of the
        table's hashes: a few C passes for the batch instead of a dict
        look-up per token.
        """
        sorted_norms, sorted_rows = self._sorted()
        found = np.full(len(norms), -1, dtype=np.int64)
        if len(sorted_norms):
            at = np.minimum(np.searchsorted(sorted_norms, norms), len(sorted_norms) - 1)
            found = np.where(sorted_norms[at] == norms, sorted_rows[at], found)
        missing = found < 0
        if missing.any():
            new, first_at, inverse = np.unique(norms[missing], return_index=True, return_inverse=True)
            if len(self) + len(new) > self.max_rows or self.n_grams > self.max_grams:
                self.clear()
                missing[:] = True
                new, first_at, inverse = np.unique(norms, return_index=True, return_inverse=True)
            # rows in the order the norms first occur, numbered in numpy rather than by a dict per token
            order = np.argsort(first_at)
            rank = np.empty(len(new), dtype=np.int64)
            rank[order] = np.arange(len(self), len(self) + len(new))
            new = new[order]
            self._add_new(new, [strings[h] for h in new.tolist()])
            found[missing] = rank[inverse]
        return found

    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        """The table's norm hashes in order, with their rows; rows added since the last call are merged in."""
        if self._unsorted:
            norms = np.concatenate(self._unsorted)
            first = len(self) - len(norms)
            order = np.argsort(norms)
            at = np.searchsorted(self._sorted_norms, norms[order])
            self._sorted_norms = np.insert(self._sorted_norms, at, norms[order])
            self._sorted_rows = np.insert(self._sorted_rows, at, order + first)
            self._unsorted = []
        return self._sorted_norms, self._sorted_rows

    def add(self, norms: list[tuple[int, str]]) -> None:
        """Rows for (norm hash, norm text) pairs not in the table; n-gram hashing is done for all at once.

        The character n-grams of each norm are a set (each distinct string
        once, ``gram_rows``).
        """
        fresh = {norm: text for norm, text in norms if norm not in self.rows}
        if fresh:
            self._add_new(np.fromiter(fresh, dtype=np.uint64, count=len(fresh)), list(fresh.values()))

    def _add_new(self, keys: np.ndarray, texts: list[str]) -> None:
        """Rows for norm hashes (uint64, none in the table yet, each once) and their texts, in that order."""
        first = len(self._unigram)
        self.rows.update(zip(keys.tolist(), range(first, first + len(keys)), strict=True))
        self._unsorted.append(keys)
        self._unigram.extend(_hashed_index(keys, 1).tolist())
        self._negated.extend(_hashed_index(keys, 2).tolist())
        bares = [text.lstrip("#") for text in texts]
        lexicon = self._lexicon
        valence = [lexicon.get(text, lexicon.get(bare, 0.0)) for text, bare in zip(texts, bares, strict=True)]
        if _TRIPLED.search("\n".join(bares)):  # else no norm is elongated: one scan for the batch
            for i, bare in enumerate(bares):
                if not valence[i] and is_elongated(bare):
                    valence[i] = lexicon.get(_ELONGATED.sub(r"\1", bare), 0.0)
        self._valence.extend(valence)
        self._negator.extend([t.replace("'", "").replace("\u2019", "") in NEGATORS for t in texts])
        self._contrast.extend([t in CONTRASTS for t in texts])
        index, owner = gram_rows(bares)
        self.n_grams += len(index)
        self._chunk_firsts.append(first)
        self._chunks.append((first, len(keys), index.astype(np.int32), (owner + first).astype(np.int32)))

    def columns(self) -> _Columns:
        """(unigram, negated unigram, valence, negator, contrast) as arrays over all rows.

        Only rows added since the last call are converted from the lists.
        """
        done, now = self._frozen, len(self)
        if done != now:
            tails = (
                np.asarray(self._unigram[done:], dtype=np.int64),
                np.asarray(self._negated[done:], dtype=np.int64),
                np.asarray(self._valence[done:], dtype=np.float64),
                np.asarray(self._negator[done:], dtype=bool),
                np.asarray(self._contrast[done:], dtype=bool),
            )
            if done:
                unigram, negated, valence, negator, contrast = (
                    np.concatenate(pair) for pair in zip(self._cols, tails, strict=True)
                )
                tails = (unigram, negated, valence, negator, contrast)
            self._cols = tails
            self._frozen = now
        return self._cols

    def grams(self, start: int, stop: int, *, in_order: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Character n-gram indices of rows start..stop and the row each belongs to (int64 arrays).

        In order of row, then of index; ``in_order=False`` leaves them in the
        order they were stored in, which saves a sort when only per-row sums
        are wanted (``sentiment.NormLogits``).
        """
        indices, owners = [], []
        for first, count, index, owner in self._chunks[max(bisect_right(self._chunk_firsts, start) - 1, 0) :]:
            if first >= stop:
                break
            if first < start or first + count > stop:
                keep = (owner >= start) & (owner < stop)
                index, owner = index[keep], owner[keep]
            indices.append(index)
            owners.append(owner)
        if not indices:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        flat, rows = np.concatenate(indices).astype(np.int64), np.concatenate(owners).astype(np.int64)
        if in_order:
            key = np.sort(rows * N_HASHED + flat)
            rows = key // N_HASHED
            flat = key - rows * N_HASHED
        return flat, rows

    def rows_of(self, norms: frozenset[int]) -> np.ndarray:
        """A bool per row: whether its norm hash is one of ``norms``."""
        mask = np.zeros(len(self), dtype=bool)
        found = [self.rows[h] for h in norms if h in self.rows]
        mask[found] = True
        return mask

    def row_grams(self, row: int) -> np.ndarray:
        """The n-gram indices of one row, in order (int64); each chunk is sorted once, when first asked."""
        at = bisect_right(self._chunk_firsts, row) - 1
        if at not in self._ordered:
            first, count, _, _ = self._chunks[at]
            flat, rows = self.grams(first, first + count)
            self._ordered[at] = (flat, np.searchsorted(rows, np.arange(first, first + count + 1)))
        flat, bounds = self._ordered[at]
        offset = row - self._chunk_firsts[at]
        return flat[bounds[offset] : bounds[offset + 1]]


_MURMUR = np.uint64(0xC6A4A7935BD1E995)
_MURMUR_SHIFT = np.uint64(47)
_GRAM_SIZES = (3, 4, 5)


def gram_rows(bares: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(feature index, row) of every character 3-, 4- and 5-gram of ``<bare>`` for each bare norm; int64 arrays.

    Each distinct gram of a norm once; within a row in no particular order
    (``split_rows`` sorts them). A norm of two characters or fewer has none.
    ASCII norms, nearly all of them, are done for the whole list at once in
    numpy (``_ascii_grams``); others gram by gram with ``hash_string``.
    """
    ascii_at = [i for i, bare in enumerate(bares) if bare.isascii()]
    if len(ascii_at) == len(bares):
        return _ascii_grams(bares)
    others = [i for i, bare in enumerate(bares) if not bare.isascii()]
    index, owner = _unicode_grams([bares[i] for i in others])
    owner = np.asarray(others, dtype=np.int64)[owner]
    if ascii_at:
        plain_index, plain_owner = _ascii_grams([bares[i] for i in ascii_at])
        index = np.concatenate([plain_index, index])
        owner = np.concatenate([np.asarray(ascii_at, dtype=np.int64)[plain_owner], owner])
    return index, owner


def split_rows(index: np.ndarray, owner: np.ndarray, n_rows: int) -> list[np.ndarray]:
    """``gram_rows``' indices as one sorted array per row."""
    key = np.sort(owner * N_HASHED + index)
    rows = key // N_HASHED
    bounds = np.searchsorted(rows, np.arange(n_rows + 1)).tolist()
    return [key[a:b] - row * N_HASHED for row, (a, b) in enumerate(pairwise(bounds))]


def _unicode_grams(bares: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``gram_rows`` gram by gram: a set of gram strings per norm, hashed with ``hash_string``."""
    grams: list[str] = []
    lengths: list[int] = []
    for bare in bares:
        padded = f"<{bare}>"
        mine = set(map(padded.__getitem__, _gram_slices(len(padded)))) if len(padded) > 4 else ()
        grams.extend(mine)
        lengths.append(len(mine))
    hashes = np.fromiter(map(hash_string, grams), dtype=np.uint64, count=len(grams))
    return _hashed_index(hashes, _GRAM_SALT), np.repeat(np.arange(len(bares), dtype=np.int64), lengths)


def _ascii_grams(bares: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``gram_rows`` of ASCII norms without a Python step per gram.

    Each gram (3 to 5 bytes of 7 bits) is read as one integer, which with
    its length and its row is one key. A norm that repeats a gram repeats a
    3-gram (every 4- and 5-gram starts with one), so the 3-gram keys alone
    are sorted to find such norms, nearly always none, and only their keys
    are made distinct (``np.unique``): two sorts of every gram cost more than
    all the rest. The gram's ``hash_string``
    (MurmurHash64A of its bytes, seed 1: for fewer than 8 bytes one mixing
    step and the finaliser) is computed from the integer;
    ``tests/nlp/test_sentiment.py`` checks both paths give the same rows.
    """
    if len(bares) >= 1 << _ROW_BITS:
        half = len(bares) // 2
        (index, owner), (rest, rest_owner) = _ascii_grams(bares[:half]), _ascii_grams(bares[half:])
        return np.concatenate([index, rest]), np.concatenate([owner, rest_owner + half])
    padded = [f"<{bare}>" for bare in bares]
    sizes = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
    sizes[sizes <= 4] = 0  # no grams at all for a norm of two characters or fewer
    starts = np.zeros(len(padded), dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    joined = "".join(p for p in padded if len(p) > 4).encode("ascii")
    size = len(joined)
    text = np.zeros(size + 4, dtype=np.uint64)
    text[:size] = np.frombuffer(joined, dtype=np.uint8)
    window = text[:size].copy()  # the 5 bytes from each position, the first one lowest
    for k in range(1, 5):
        window |= text[k : size + k] << np.uint64(8 * k)
    owner_at = np.repeat(np.arange(len(padded), dtype=np.uint64), sizes) << np.uint64(_GRAM_BITS)
    room = np.repeat(starts + sizes, sizes) - np.arange(size, dtype=np.int64)  # characters left in the norm
    keys = []
    for n in _GRAM_SIZES:
        fits = room >= n
        keys.append(
            owner_at[fits] | np.uint64((n - 3) << 40) | (window[fits] & np.uint64((1 << (8 * n)) - 1))
        )
    three = np.sort(keys[0])
    key = np.concatenate(keys)
    repeated = three[1:][three[1:] == three[:-1]] >> np.uint64(_GRAM_BITS)
    if len(repeated):
        has_repeats = np.zeros(len(padded), dtype=bool)
        has_repeats[repeated.astype(np.int64)] = True
        theirs = has_repeats[(key >> np.uint64(_GRAM_BITS)).astype(np.int64)]
        key = np.concatenate([key[~theirs], np.unique(key[theirs])])
    owner = (key >> np.uint64(_GRAM_BITS)).astype(np.int64)
    length = ((key >> np.uint64(40)) & np.uint64(7)) + np.uint64(3)
    h = (np.uint64(1) ^ (length * _MURMUR)) ^ (key & np.uint64((1 << 40) - 1))
    h *= _MURMUR
    h ^= h >> _MURMUR_SHIFT
    h *= _MURMUR
    h ^= h >> _MURMUR_SHIFT
    return _hashed_index(h, _GRAM_SALT), owner


_GRAM_BITS = 43  # 5 bytes of gram and 3 bits of length below the row number
_ROW_BITS = 64 - _GRAM_BITS


@dataclass
class FeatureBatch:
    """The features of a batch of docs, token-aligned.

    ``starts[d]:starts[d + 1]`` are the tokens of doc ``d``; ``bigram[i]``
    is the feature of the pair (token i-1, token i), -1 on a doc's first token.
    """

    starts: np.ndarray
    rows: np.ndarray
    negated: np.ndarray
    turned: np.ndarray  # negators whose scope holds a word of negative valence (``turned_index``)
    bigram: np.ndarray
    dense: np.ndarray
    table: NormTable

    @property
    def n_docs(self) -> int:
        return len(self.starts) - 1

    def turned_index(self) -> np.ndarray:
        """Feature index of each turned negator, in token order: the negator's negated index, hashed again."""
        _, negated_uni, *_ = self.table.columns()
        return _hashed_index(negated_uni[self.rows[self.turned]].astype(np.uint64), _TURNED_SALT)

    def coo(self, neutral: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(doc, feature index, value) triplets: the sparse matrix the model is trained on.

        ``neutral`` (a bool per table row, ``NormTable.rows_of``) marks norms whose
        own unigram and character n-grams are left out (the sentiment model's
        topic and product words, ``SentimentModel.neutral``); their bigrams stay.
        """
        unigram, negated_uni, *_ = self.table.columns()
        tok_doc = np.repeat(np.arange(self.n_docs, dtype=np.int64), np.diff(self.starts))
        uni = np.where(self.negated, negated_uni[self.rows], unigram[self.rows])
        uni[self.turned] = self.turned_index()
        own = np.ones(len(self.rows), dtype=bool) if neutral is None else ~neutral[self.rows] | self.turned
        tok_doc_own, uni = tok_doc[own], uni[own]
        plain = ~self.negated & ~self.turned & own
        gram_docs, gram_idx = [], []
        for doc, row in zip(tok_doc[plain].tolist(), self.rows[plain].tolist(), strict=True):
            grams = self.table.row_grams(row)
            gram_idx.append(grams)
            gram_docs.append(np.full(len(grams), doc, dtype=np.int64))
        has_bigram = self.bigram >= 0
        dense_doc = np.repeat(np.arange(self.n_docs, dtype=np.int64), N_DENSE)
        dense_idx = np.tile(np.arange(N_HASHED, N_FEATURES, dtype=np.int64), self.n_docs)
        docs = np.concatenate([tok_doc_own, *gram_docs, tok_doc[has_bigram], dense_doc])
        idx = np.concatenate([uni, *gram_idx, self.bigram[has_bigram], dense_idx])
        hashed = len(docs) - len(dense_doc)
        values = np.concatenate([np.ones(hashed, dtype=np.float32), self.dense.ravel()])
        return docs, idx, values


class Featurizer:
    """Turns batches of docs into a :class:`FeatureBatch`; caches per-norm work in ``table``."""

    def __init__(self, max_norms: int = 200_000) -> None:
        self.table = NormTable(max_norms)

    def batch(
        self,
        docs: list[Doc],
        unresolved: list[int],
        texts: list[str] | None = None,
        arrays: list[np.ndarray] | None = None,
    ) -> FeatureBatch:
        """Features of ``docs``; pass ``texts`` when the docs' texts are at hand (``Doc.text`` is rebuilt per call).

        ``arrays`` are the docs' ``to_array`` rows when a component read them
        already: their first columns must be ``TOKEN_ATTRS`` (more may follow).
        """
        if arrays is None:
            arrays = [d.to_array(TOKEN_ATTRS) for d in docs]
        lengths = [len(a) for a in arrays]
        starts = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        flat = np.concatenate(arrays) if starts[-1] else np.zeros((0, 3), dtype=np.uint64)
        norms = flat[:, 0]
        strings = docs[0].vocab.strings if docs else None
        rows = self.table.lookup(norms, strings)
        _, _, valence, negator, contrast = self.table.columns()
        is_negator = negator[rows]
        negated, turned = _negation_scope(is_negator, flat[:, 1].astype(bool), starts, valence[rows])
        bigram = _bigrams(norms, starts)
        texts = [d.text for d in docs] if texts is None else texts
        after = _after_contrast(contrast[rows], starts)
        dense = _dense(texts, starts, valence[rows], negated, is_negator, after, flat[:, 2], unresolved)
        return FeatureBatch(starts, rows, negated, turned, bigram, dense, self.table)


def _negation_scope(
    is_negator: np.ndarray, punct: np.ndarray, starts: np.ndarray, valence: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(in scope, turned): tokens within ``NEGATION_SCOPE`` after a negator, stopping at punctuation or
    the doc's end; and the negators whose scope holds a word of negative valence."""
    scope = np.zeros(len(is_negator), dtype=bool)
    turned = np.zeros(len(is_negator), dtype=bool)
    positions = np.flatnonzero(is_negator)
    if not len(positions):
        return scope, turned
    ends = starts[np.searchsorted(starts, positions, side="right")]
    for i, end in zip(positions.tolist(), ends.tolist(), strict=True):
        for j in range(i + 1, min(i + 1 + NEGATION_SCOPE, end)):
            if punct[j]:
                break
            scope[j] = True
            if valence[j] < 0:
                turned[i] = True
    return scope, turned


def _bigrams(norms: np.ndarray, starts: np.ndarray) -> np.ndarray:
    bigram = np.full(len(norms), -1, dtype=np.int64)
    if len(norms) > 1:
        mixed = (norms[:-1] * _MIX) ^ (norms[1:] + _BIGRAM_SALT)
        bigram[1:] = ((mixed * _MIX) >> np.uint64(20) & _MASK).astype(np.int64)
        bigram[starts[:-1][starts[:-1] < len(norms)]] = -1
    return bigram


def _after_contrast(is_contrast: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Tokens after the last "but" (or "however"...) of their doc, where VADER weighs sentiment more."""
    seen = np.cumsum(is_contrast)
    doc_of = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    ends = starts[1:] - 1
    at_end = np.where(starts[1:] > starts[:-1], seen[np.maximum(ends, 0)] if len(seen) else 0, 0)
    remaining = at_end[doc_of] - seen if len(seen) else seen
    has_contrast = _per_doc(is_contrast, starts) > 0
    return (remaining == 0) & has_contrast[doc_of] & ~is_contrast


def _per_doc(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each doc's tokens (empty docs give 0)."""
    total = np.zeros(len(values) + 1, dtype=np.float64)
    np.cumsum(values, out=total[1:])
    return total[starts[1:]] - total[starts[:-1]]


def _dense(
    texts: list[str],
    starts: np.ndarray,
    valence: np.ndarray,
    negated: np.ndarray,
    is_negator: np.ndarray,
    after: np.ndarray,
    upper: np.ndarray,
    unresolved: list[int],
) -> np.ndarray:
    signed = np.where(negated, valence * NEGATION_FLIP, valence)
    pos = _per_doc(np.clip(signed, 0, None), starts)
    neg = _per_doc(np.clip(-signed, 0, None), starts)
    total = pos - neg
    columns = [
        np.ones(len(texts)),
        np.log1p(pos),
        np.log1p(neg),
        total / np.sqrt(total * total + 15.0),
        np.minimum(_per_doc(signed > 0, starts), 5) / 5.0,
        np.minimum(_per_doc(signed < 0, starts), 5) / 5.0,
        np.array([min(t.count("!"), 5) / 5.0 for t in texts]),
        np.array([min(t.count("?"), 3) / 3.0 for t in texts]),
        np.array([1.0 if is_elongated(t) else 0.0 for t in texts]),
        np.minimum(_per_doc(upper.astype(bool), starts), 5) / 5.0,
        np.minimum(np.asarray(unresolved, dtype=np.float64), 3) / 3.0,
        np.minimum(_per_doc(is_negator, starts), 3) / 3.0,
        np.log1p(_per_doc(np.where(negated, np.clip(valence, 0, None), 0.0), starts)),
        np.log1p(_per_doc(np.where(negated, np.clip(-valence, 0, None), 0.0), starts)),
        np.log1p(_per_doc(np.where(after, np.clip(signed, 0, None), 0.0), starts)),
        np.log1p(_per_doc(np.where(after, np.clip(-signed, 0, None), 0.0), starts)),
    ]
    return np.stack(columns, axis=1).astype(np.float32).reshape(len(texts), N_DENSE)
