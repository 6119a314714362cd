"""spaCy components of the Sift pipeline; each writes into ``doc._.sift``."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from spacy.attrs import IDS, IDX, IS_ALPHA, IS_STOP, LENGTH, LOWER
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc
from spacy.util import filter_spans, minibatch

from engine.nlp import entities as pattern_entities
from engine.nlp import intent as intent_rules
from engine.nlp.analysis import Analysis
from engine.nlp.complaint import ComplaintModel
from engine.nlp.errors import NlpDataError, NlpModelError
from engine.nlp.features import TOKEN_ATTRS, Featurizer, hash_string, vader_lexicon
from engine.nlp.language_id import LanguageIdentifier
from engine.nlp.resources import (
    CATALOGUE_FILE,
    CUES_FILE,
    TOPICS_FILE,
    VOCAB_FILE,
    PhraseGroup,
    compile_guarded,
    load_catalogue,
    load_groups,
)
from engine.nlp.sentiment import LABELS, NormLogits, SentimentModel, softmax
from engine.nlp.tokenizer import UNUSED_LEXICAL, doc_text, lex_attr_getters

if not Doc.has_extension("sift"):
    Doc.set_extension("sift", default=None)

_TOPIC, _CUE = "topic", "cue"


_SIFT_KEY = ("._.", "sift", None, None)


def analysis(doc: Doc) -> Analysis:
    """``doc._.sift``, created on first use with the doc's text.

    Read from ``doc.user_data`` under the key the ``Underscore`` accessor
    uses (the same object ``doc._.sift`` returns), which skips building an
    accessor object on each of the several calls per doc.
    """
    # spaCy's doc.pyi says Dict[str, Any]; extensions keep their values under tuple keys
    user_data: dict[Any, Any] = doc.user_data
    found = user_data.get(_SIFT_KEY)
    if found is None:
        text = doc_text(doc)
        found = user_data[_SIFT_KEY] = Analysis(text=text, lower=text.lower())
    return found


class RuleMatcher:
    """Topics, cues, catalogue entities, hashtags and pattern entities of one doc.

    Phrases and hashtags go through one PhraseMatcher on NORM, catalogue
    aliases through one on LOWER (handles keep their text there), ``regex``
    entries through one compiled alternation over the text. Token patterns
    (no wildcards) run only if a data file has any.
    """

    def __init__(self, nlp: Language, topics_file: Path, cues_file: Path, catalogue_file: Path) -> None:
        self.phrases = PhraseMatcher(nlp.vocab, attr="NORM")
        self.catalogue = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.matcher = Matcher(nlp.vocab, validate=True)
        self._kinds: dict[int, tuple[str, str]] = {}
        self._regex_kinds: list[tuple[str, str]] = []
        regexes: list[str] = []
        for kind, path, section in ((_TOPIC, topics_file, "topics"), (_CUE, cues_file, "cues")):
            for group in load_groups(path, section):
                self._add(nlp, kind, group, str(path))
                for text in group.regex:
                    regexes.append(f"(?P<g{len(self._regex_kinds)}>{text})")
                    self._regex_kinds.append((kind, group.name))
        self.regex = compile_guarded("|".join(regexes), re.IGNORECASE) if regexes else None
        self._catalogue: dict[int, tuple[str, str]] = {}
        for entry in load_catalogue(catalogue_file):
            key = nlp.vocab.strings.add(f"catalogue:{entry.name}")
            self._catalogue[key] = (entry.label, entry.name)
            aliases = [*entry.aliases, *_hashtag_aliases(entry.aliases)]
            self.catalogue.add(f"catalogue:{entry.name}", [nlp.make_doc(a) for a in aliases])
        self.model_ents = "ner" in nlp.pipe_names

    def _add(self, nlp: Language, kind: str, group: PhraseGroup, path: str) -> None:
        key = f"{kind}:{group.name}"
        computed = {name for name in UNUSED_LEXICAL if IDS[name] in lex_attr_getters(nlp.vocab)}
        self._kinds[nlp.vocab.strings.add(key)] = (kind, group.name)
        docs = [nlp.make_doc(p) for p in (*group.phrases, *group.hashtags)]
        if docs:
            self.phrases.add(key, docs)
        for i, pattern in enumerate(group.patterns):
            missing = sorted({k for token in pattern for k in token if k in UNUSED_LEXICAL} - computed)
            if missing:
                raise NlpDataError(
                    path,
                    f"{kind} {group.name!r} patterns[{i}]",
                    f"{', '.join(missing)} is not computed by the blank pipeline; use regex instead",
                )
            try:
                self.matcher.add(key, [pattern])
            except (ValueError, KeyError, TypeError) as exc:
                first = str(exc).strip().splitlines()[0][:200]
                raise NlpDataError(path, f"{kind} {group.name!r} patterns[{i}]", first) from exc

    def _matches(self, doc: Doc) -> list[tuple[int, str, str, str]]:
        """(start char, kind, name, keyword) of every topic and cue match."""
        found = []
        token_matches = self.phrases(doc)
        if len(self.matcher):
            token_matches += self.matcher(doc)
        text = analysis(doc).text
        if token_matches:
            # character offsets from one array: a Span per match cost more than the matching (a text of
            # 3,000 "#fail" has 6,000 matches)
            starts, lengths = doc.to_array([IDX, LENGTH]).T.tolist()
            for match_id, start, end in token_matches:
                kind, name = self._kinds[match_id]
                first = starts[start]
                found.append((first, kind, name, text[first : starts[end - 1] + lengths[end - 1]].lower()))
        if self.regex is not None:
            for m in self.regex.finditer(text):
                # each alternative is a group gN and data files may add no named group, so gN closed last
                assert m.lastgroup is not None
                kind, name = self._regex_kinds[int(m.lastgroup[1:])]
                found.append((m.start(), kind, name, m.group().lower()))
        found.sort(key=lambda m: (m[0], -len(m[3])))
        return found

    def __call__(self, doc: Doc) -> Doc:
        found = analysis(doc)
        # dicts as ordered sets: a text of thousands of distinct hashtags or keywords stays linear
        topics, cues = dict.fromkeys(found.topics), dict.fromkeys(found.cues)
        keywords = dict.fromkeys(found.keywords)
        for _, kind, name, keyword in self._matches(doc):
            (topics if kind == _TOPIC else cues).setdefault(name)
            keywords.setdefault(keyword)
        text = found.text
        if "#" in text:
            found.hashtags = [t.lower() for t in _HASHTAG.findall(text)]
            for tag in found.hashtags:
                topics.setdefault(tag)
        entities = self._entities(doc) + [
            {"label": label, "text": text[s:e], "pii": label in pattern_entities.PII_LABELS}
            for label, s, e in pattern_entities.find(text, found.lower)
        ]
        # Lists are kept only when something was found (see ``Analysis``).
        found.topics, found.cues, found.keywords = list(topics) or (), list(cues) or (), list(keywords) or ()
        found.entities = entities or ()
        return doc

    def _entities(self, doc: Doc) -> list[dict[str, object]]:
        """Catalogue matches, longest first where they overlap (``filter_spans``), in text order; then a model's own."""
        found: list[dict[str, object]] = []
        for span in filter_spans(self.catalogue(doc, as_spans=True)):
            label, name = self._catalogue[span.label]
            found.append({"label": label, "text": name, "pii": False})
        if self.model_ents:
            found.extend({"label": e.label_, "text": e.text, "pii": False} for e in doc.ents)
        return found


def _hashtag_aliases(aliases: tuple[str, ...]) -> list[str]:
    """``#uber`` for the alias ``uber``: one-word aliases of letters and digits also match as hashtags."""
    return [f"#{a}" for a in aliases if a.isalnum() and f"#{a}" not in aliases]


_HASHTAG = compile_guarded(r"(?<![\w#@&])#[^\W_]\w*")
_MIN_STOPS = 2
_STOP_SHARE = 0.3
_KNOWN_SHARE = 0.6


def english_words(vocab_file: Path = VOCAB_FILE) -> frozenset[int]:
    """Hashes of lower-cased English words: VADER's lexicon and the training split's frequent words."""
    words = {w for w in vader_lexicon() if w.isalpha()}
    try:
        chunks = vocab_file.read_text(encoding="utf-8").split()
    except OSError:
        chunks = []
    words.update(c.strip(".,!?").lower() for c in chunks if c.strip(".,!?").isalpha())
    return frozenset(hash_string(w) for w in words)


# One to_array per doc for two components: the sentiment features' columns,
# then the language detector's (alphabetic, stop word, lower-case hash).
TOKEN_ROWS = [*TOKEN_ATTRS, IS_ALPHA, IS_STOP, LOWER]
_ALPHA, _STOP, _LOWER = len(TOKEN_ATTRS), len(TOKEN_ATTRS) + 1, len(TOKEN_ATTRS) + 2


def detect_language(doc: Doc, english: frozenset[int] = frozenset()) -> str:
    """English when stop words, or known English words, are common enough; else py3langid's model.

    The cheap tests settle about 97% of tweets; the model (``language_id``) costs some 0.25-0.4 ms a text.
    """
    if not len(doc):
        return "en"
    arr = doc.to_array(TOKEN_ROWS)
    words, stops = (int(n) for n in arr[:, _ALPHA : _STOP + 1].sum(axis=0))
    return _decide_language(doc, arr, words, stops, english)


def _decide_language(doc: Doc, arr: np.ndarray, words: int, stops: int, english: frozenset[int]) -> str:
    """``detect_language`` once the doc's alphabetic words and stop words are counted."""
    if stops >= _MIN_STOPS and stops >= _STOP_SHARE * words:
        return "en"
    known = sum(h in english for h in arr[arr[:, _ALPHA] == 1, _LOWER].tolist()) if english and words else 0
    if known >= 2 and known >= _KNOWN_SHARE * words:
        return "en"
    if words < 3:
        return "en" if stops or known or not words else _langid(analysis(doc).text)
    return _langid(analysis(doc).text)


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    """py3langid's model, loaded once per process on first use (``warm_vocab`` makes that start-up)."""
    return LanguageIdentifier()


def _langid(text: str) -> str:
    return _identifier().classify(text)


class LanguageDetector:
    """``detect_language`` a batch of docs at a time.

    The word and stop-word counts of the whole batch come from one
    cumulative sum: per doc, numpy calls on arrays of twenty tokens cost
    more than the counting.
    """

    def __init__(self) -> None:
        self.english = english_words()

    def __call__(self, doc: Doc) -> Doc:
        self._detect([doc])
        return doc

    def pipe(self, docs, batch_size: int = 256):
        for batch in minibatch(docs, batch_size):
            self._detect(batch)
            yield from batch

    def _detect(self, docs: list[Doc]) -> None:
        arrays = [d.to_array(TOKEN_ROWS) for d in docs]
        ends = np.cumsum([len(a) for a in arrays])
        totals = np.zeros((int(ends[-1]) + 1, 2), dtype=np.int64)
        np.cumsum(np.concatenate(arrays)[:, _ALPHA : _STOP + 1], axis=0, out=totals[1:])
        counts = (totals[ends] - totals[np.concatenate([[0], ends[:-1]])]).tolist()
        for doc, arr, (words, stops) in zip(docs, arrays, counts, strict=True):
            found = analysis(doc)
            found.language = _decide_language(doc, arr, words, stops, self.english) if len(arr) else "en"
            found.token_rows = arr


class SentimentScorer:
    """Labels docs with the linear model, a batch at a time; brand-care cues pull towards negative.

    With a complaint model, its weights over the same features are a fourth
    column of the one logit pass: ``complaint_features`` of each doc, to
    which ``IntentClassifier`` adds the rules' part.
    """

    def __init__(self, model: SentimentModel, complaint: ComplaintModel | None = None) -> None:
        self.model = model
        self.complaint = complaint
        self.featurizer = Featurizer()
        # one copy of the weights, column-major (NormLogits reads each class's column); the model's are a view
        weights = np.empty(
            (len(model.weights), len(LABELS) + (complaint is not None)), dtype=np.float32, order="F"
        )
        weights[:, : len(LABELS)] = model.weights
        if complaint is not None:
            weights[:, len(LABELS)] = complaint.feature_weights
        model.weights = weights[:, : len(LABELS)]
        self.norm_logits = NormLogits(weights, self.featurizer.table, model.neutral_hashes())

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: int = 256):
        batch: list[Doc] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= batch_size:
                yield from self._score(batch)
                batch = []
        if batch:
            yield from self._score(batch)

    def _score(self, docs: list[Doc]) -> list[Doc]:
        found = [analysis(d) for d in docs]
        rows = [f.token_rows for f in found]
        features = self.featurizer.batch(
            docs,
            [f.cues.count("unresolved") for f in found],
            [f.text for f in found],
            None if any(r is None for r in rows) else rows,
        )
        for item in found:
            item.token_rows = None
        logits = self.norm_logits.logits(features)
        if self.complaint is not None:
            for item, part in zip(found, logits[:, 3].tolist(), strict=True):
                item.complaint_features = part
        probs = softmax(logits[:, :3] + self.model.offsets)
        labels = probs.argmax(axis=1).tolist()
        scores = (probs[:, 2] - probs[:, 0]).tolist()
        for item, p, label, score in zip(found, probs.tolist(), labels, scores, strict=True):
            if item.language != "en":
                continue
            name = LABELS[label]
            if p[2] < 0.5 and item.cues and _NEGATIVE_CUES.intersection(item.cues):
                name, score = "negative", min(score, -0.3)
            item.sentiment_label, item.sentiment_score = name, round(score, 4)
            item.probabilities = (p[0], p[1], p[2])
        return docs


_NEGATIVE_CUES = frozenset({"unresolved", "dissatisfied"})


class IntentClassifier:
    """The complaint probability (the model's rule part added to the scorer's), then the intent."""

    def __init__(self, complaint: ComplaintModel) -> None:
        self.complaint = complaint

    def __call__(self, doc: Doc) -> Doc:
        found = analysis(doc)
        model = self.complaint
        rules = intent_rules.rule_features(found)
        score = model.probability(model.raw(found.complaint_features, rules))
        found.complaint_score = round(score, 4)
        found.intent = intent_rules.classify(found, rules, score >= model.threshold)
        return doc


@Language.factory(
    "sift_rules", default_config={"topics_file": None, "cues_file": None, "catalogue_file": None}
)
def make_rules(
    nlp: Language, name: str, topics_file: str | None, cues_file: str | None, catalogue_file: str | None
) -> RuleMatcher:
    return RuleMatcher(
        nlp,
        Path(topics_file or TOPICS_FILE),
        Path(cues_file or CUES_FILE),
        Path(catalogue_file or CATALOGUE_FILE),
    )


@Language.factory("sift_language")
def make_language(nlp: Language, name: str) -> LanguageDetector:
    return LanguageDetector()


@Language.factory("sift_sentiment", default_config={"model_file": None, "complaint_file": None})
def make_sentiment(
    nlp: Language, name: str, model_file: str | None, complaint_file: str | None
) -> SentimentScorer:
    """``complaint_file`` "" scores sentiment alone (training the complaint model needs that)."""
    model = SentimentModel.load(Path(model_file)) if model_file else SentimentModel.load()
    if complaint_file == "":
        return SentimentScorer(model)
    complaint = ComplaintModel.load(Path(complaint_file)) if complaint_file else ComplaintModel.load()
    return SentimentScorer(model, complaint)


@Language.factory("sift_intent")
def make_intent(nlp: Language, name: str) -> IntentClassifier:
    scorer = nlp.get_pipe("sift_sentiment") if "sift_sentiment" in nlp.pipe_names else None
    if not isinstance(scorer, SentimentScorer) or scorer.complaint is None:
        raise NlpModelError(
            "sift_intent needs the sift_sentiment component with a complaint model before it."
        )
    return IntentClassifier(scorer.complaint)
