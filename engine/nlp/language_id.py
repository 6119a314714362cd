"""py3langid's model held compactly: the answers of ``py3langid.classify`` in a tenth of its memory.

py3langid 0.4.0 loads its byte automaton as 38,346 rows of 256 transitions
(39 MB) and its feature-by-language table as a dense float16 array (28 MB),
plus a third as much again while loading. Two facts of that model let the
same answers come from about 10 MB:

- the automaton is Aho-Corasick over byte n-grams (at most 6 bytes): its
  state after a byte is the longest n-gram ending there that is one of its
  states. A sorted table of the states' n-grams finds that state with a
  binary search per n-gram length, and the state's feature is the same;
- 81% of the table's entries are their language's smallest value (the
  smoothed probability of an n-gram that language's training text never
  had). Keeping that floor per language and only the entries above it
  rebuilds, for a text's features, the very float16 rows py3langid reads.

The scores then come from the same values in the same order, so the label is
py3langid's (``tests/nlp/test_language_id.py`` checks it on text in many
languages). Both structures are built from py3langid's own model file, read a
block of rows at a time so its dense arrays are never whole in memory. The
file's layout is py3langid 0.4.0's; pyproject.toml pins that version.
"""

from __future__ import annotations

import lzma
import shutil
import tempfile
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import py3langid.langid

MODEL_FILE = py3langid.langid.MODEL_DIR / py3langid.langid.MODEL_FILE
_BLOCK_BYTES = 1 << 18  # read a quarter megabyte at a time: the loading costs little more than the result
_LENGTH_SHIFT = 48  # a key is the n-gram's length above its bytes read as a base-256 number
# py3langid's score of every language for a text without features
_RAW_FLOOR = float(np.finfo(np.float32).min)


def _member_blocks(archive: zipfile.ZipFile, name: str, width: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, rows) of a 2-D array stored in the archive, ``_BLOCK_BYTES`` at a time."""
    with archive.open(f"{name}.npy") as member:
        version = np.lib.format.read_magic(member)
        read_header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, fortran_order, dtype = read_header(member)
        if fortran_order:
            raise ValueError(f"{MODEL_FILE}: {name} is stored in Fortran order; this loader reads rows")
        rows, step = int(np.prod(shape)) // width, max(1, _BLOCK_BYTES // (width * dtype.itemsize))
        for start in range(0, rows, step):
            count = min(step, rows - start)
            block = np.frombuffer(member.read(count * width * dtype.itemsize), dtype=dtype)
            yield start, block.reshape(count, width)


def _automaton_keys(
    transitions: Callable[[], Iterator[tuple[int, np.ndarray]]], row_of: np.ndarray
) -> np.ndarray:
    """Each state's key (length and bytes of the n-gram it stands for), walking the trie a level at a time.

    In an Aho-Corasick automaton the only move from depth d to depth d + 1 is
    the trie's edge, so a state first reached at a level is the child of the
    state that reached it, by that byte.
    """
    depth = np.full(len(row_of), -1, dtype=np.int64)
    value = np.zeros(len(row_of), dtype=np.int64)
    depth[0] = 0
    frontier = np.zeros(1, dtype=np.int64)
    level = 0
    while len(frontier):
        frontier = frontier[np.argsort(row_of[frontier], kind="stable")]
        frontier_rows = row_of[frontier]
        found: list[np.ndarray] = []
        for start, block in transitions():
            lo, hi = np.searchsorted(frontier_rows, [start, start + len(block)])
            if lo == hi:
                continue
            moves = block[frontier_rows[lo:hi] - start]
            parent, byte = np.nonzero(depth[moves] < 0)
            child = moves[parent, byte].astype(np.int64)
            depth[child] = level + 1
            value[child] = value[frontier[lo + parent]] * 256 + byte
            found.append(child)
        frontier = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
        level += 1
    return (depth << _LENGTH_SHIFT) | value


class LanguageIdentifier:
    """``classify(text)``: the label py3langid gives ``text``, from the compact model."""

    def __init__(self, model_file: Path = MODEL_FILE) -> None:
        with tempfile.TemporaryFile(suffix=".npz") as npz:
            with lzma.open(model_file) as packed:
                shutil.copyfileobj(packed, npz, length=1 << 20)
            self._load(npz)

    def _load(self, npz: IO[bytes]) -> None:
        npz.seek(0)
        with np.load(npz, allow_pickle=False) as small:
            self.classes: list[str] = [str(c) for c in small["classes"].tolist()]
            self.class_prior = small["pc"]
            row_of = small["nextmove_row"].astype(np.int64)
            feature_of = small["out_feat"].astype(np.int32)
        with zipfile.ZipFile(npz) as archive:
            keys = _automaton_keys(lambda: _member_blocks(archive, "nextmove", 256), row_of)
            self._table(lambda: _member_blocks(archive, "ptc", len(self.classes)))
        order = np.argsort(keys)
        self.keys = keys[order]
        self.features = feature_of[order]
        self.longest = int(self.keys[-1] >> _LENGTH_SHIFT)
        self._length_bits = (np.arange(1, self.longest + 1, dtype=np.int64) << _LENGTH_SHIFT)[:, np.newaxis]
        self.aliases: list[tuple[int, int]] = []  # (first column, later column) of a label with two
        first: dict[str, int] = {}
        for column, label in enumerate(self.classes):
            if label in first:
                self.aliases.append((first[label], column))
            first.setdefault(label, column)

    def _table(self, blocks: Callable[[], Iterator[tuple[int, np.ndarray]]]) -> None:
        """Per language, its floor; per feature (CSR), the languages whose value is above it and that value."""
        self.floor = np.min([b.min(axis=0) for _, b in blocks()], axis=0)
        above = np.concatenate([(block != self.floor).sum(axis=1) for _, block in blocks()])
        self.row_start = np.concatenate([[0], np.cumsum(above)]).astype(np.int64)
        self.languages = np.empty(int(self.row_start[-1]), dtype=np.uint8)
        self.values = np.empty(int(self.row_start[-1]), dtype=self.floor.dtype)
        for start, block in blocks():
            row, language = np.nonzero(block != self.floor)
            at = slice(self.row_start[start], self.row_start[start + len(block)])
            self.languages[at] = language
            self.values[at] = block[row, language]

    def classify(self, text: str) -> str:
        """py3langid's label for ``text``; like py3langid, a text with no known n-gram gets its first label."""
        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
        visits = Counter(self._features(np.frombuffer(data, dtype=np.uint8).astype(np.int64)).tolist())
        if not visits:
            scores = np.full(len(self.classes), _RAW_FLOOR, dtype=np.float32)
        else:
            ids = np.fromiter(visits.keys(), dtype=np.intp, count=len(visits))
            counts = np.fromiter(visits.values(), dtype=np.float32, count=len(visits))
            scores = np.log1p(counts) @ self._rows(ids) + self.class_prior
        for kept, alias in self.aliases:  # a label with two columns (sr) scores as the better one
            scores[kept] = max(scores[kept], scores[alias])
            scores[alias] = _RAW_FLOOR
        return self.classes[int(scores.argmax())]

    def _features(self, data: np.ndarray) -> np.ndarray:
        """The automaton's features at each byte, in text order: its state there is the longest known n-gram ending there.

        All n-grams of the text (row: length - 1, column: where it ends) are
        looked up with one binary search; a missing one has a negative key.
        """
        size, longest = len(data), min(self.longest, len(data))
        if not size:
            return np.zeros(0, dtype=np.int32)
        window = np.full((longest, size), -1, dtype=np.int64)
        window[0] = data
        for length in range(1, longest):
            np.add(window[length - 1, length - 1 : -1] * 256, data[length:], out=window[length, length:])
        window |= self._length_bits[:longest]
        at = np.searchsorted(self.keys, window.ravel()).reshape(window.shape)
        np.minimum(at, len(self.keys) - 1, out=at)
        hit = self.keys[at] == window
        known = hit.any(axis=0)
        longest_hit = longest - 1 - np.argmax(hit[::-1], axis=0)
        state = at[longest_hit[known], np.flatnonzero(known)]
        features = self.features[state]
        return features[features >= 0]

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """The float16 table rows of these features, as py3langid holds them."""
        rows = np.repeat(self.floor[np.newaxis, :], len(ids), axis=0)
        starts, ends = self.row_start[ids], self.row_start[ids + 1]
        sizes = ends - starts
        at = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))
        rows[np.repeat(np.arange(len(ids)), sizes), self.languages[at]] = self.values[at]
        return rows
