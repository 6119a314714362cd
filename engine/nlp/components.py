"""spaCy components of the Sift pipeline; each writes into ``doc._.sift``."""

from __future__ import annotations

from pathlib import Path

import py3langid
from spacy.attrs import IS_ALPHA, IS_STOP
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc

from engine.nlp import entities as pattern_entities
from engine.nlp import intent as intent_rules
from engine.nlp.analysis import Analysis
from engine.nlp.errors import NlpDataError
from engine.nlp.features import Featurizer
from engine.nlp.resources import CUES_FILE, TOPICS_FILE, PhraseGroup, load_groups
from engine.nlp.sentiment import LABELS, SentimentModel

if not Doc.has_extension("sift"):
    Doc.set_extension("sift", default=None)

_TOPIC, _CUE = "topic", "cue"


def analysis(doc: Doc) -> Analysis:
    if doc._.sift is None:
        doc._.sift = Analysis()
    return doc._.sift


class RuleMatcher:
    """Topics, cues (PhraseMatcher on NORM, token Matcher) and pattern entities."""

    def __init__(self, nlp: Language, topics_file: Path, cues_file: Path) -> None:
        self.phrases = PhraseMatcher(nlp.vocab, attr="NORM")
        self.matcher = Matcher(nlp.vocab, validate=True)
        self._kinds: dict[int, tuple[str, str]] = {}
        for kind, path, key in ((_TOPIC, topics_file, "topics"), (_CUE, cues_file, "cues")):
            for group in load_groups(path, key):
                self._add(nlp, kind, group, str(path))

    def _add(self, nlp: Language, kind: str, group: PhraseGroup, path: str) -> None:
        key = f"{kind}:{group.name}"
        self._kinds[nlp.vocab.strings.add(key)] = (kind, group.name)
        docs = [nlp.make_doc(p) for p in (*group.phrases, *group.hashtags)]
        self.phrases.add(key, docs)
        for i, pattern in enumerate(group.patterns):
            try:
                self.matcher.add(key, [pattern])
            except (ValueError, KeyError, TypeError) as exc:
                first = str(exc).strip().splitlines()[0][:200]
                raise NlpDataError(path, f"{kind} {group.name!r} patterns[{i}]", first) from exc

    def __call__(self, doc: Doc) -> Doc:
        found = analysis(doc)
        matches = sorted(self.phrases(doc) + self.matcher(doc), key=lambda m: (m[1], -m[2]))
        for match_id, start, end in matches:
            kind, name = self._kinds[match_id]
            target = found.topics if kind == _TOPIC else found.cues
            if name not in target:
                target.append(name)
            keyword = doc[start:end].text.lower()
            if keyword not in found.keywords:
                found.keywords.append(keyword)
        found.hashtags = [t.lower_ for t in doc if t.text.startswith("#") and len(t.text) > 1]
        for tag in found.hashtags:
            if tag not in found.topics:
                found.topics.append(tag)
        found.entities = [
            {"label": ent.label_, "text": ent.ent_id_ or ent.text, "pii": False} for ent in doc.ents
        ] + [
            {"label": label, "text": doc.text[s:e], "pii": label in pattern_entities.PII_LABELS}
            for label, s, e in pattern_entities.find(doc.text)
        ]
        return doc


_MIN_STOPS = 2
_STOP_SHARE = 0.3


def detect_language(doc: Doc) -> str:
    """English when stop words are common enough (cheap, covers most traffic), else py3langid."""
    arr = doc.to_array([IS_ALPHA, IS_STOP])
    words = int(arr[:, 0].sum()) if len(arr) else 0
    stops = int((arr[:, 0] & arr[:, 1]).sum()) if len(arr) else 0
    if stops >= _MIN_STOPS and stops >= _STOP_SHARE * words:
        return "en"
    if words < 3:
        return "en" if stops or not words else _langid(doc.text)
    return _langid(doc.text)


def _langid(text: str) -> str:
    language, _ = py3langid.classify(text)
    return str(language)


class LanguageDetector:
    def __call__(self, doc: Doc) -> Doc:
        analysis(doc).language = detect_language(doc)
        return doc


class SentimentScorer:
    """Labels docs with the linear model; brand-care cues pull towards negative."""

    def __init__(self, model: SentimentModel) -> None:
        self.model = model
        self.featurizer = Featurizer()

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
        feats = [self.featurizer.features(d, analysis(d).cues.count("unresolved")) for d in docs]
        probs = self.model.probabilities(feats)
        for doc, p in zip(docs, probs, strict=True):
            found = analysis(doc)
            if found.language != "en":
                continue
            neg, neu, pos = (float(x) for x in p)
            score = pos - neg
            label = LABELS[int(p.argmax())]
            if "unresolved" in found.cues and pos < 0.5:
                label, score = "negative", min(score, -0.3)
            found.sentiment_label, found.sentiment_score = label, round(score, 4)
            found.probabilities = (neg, neu, pos)
        return docs


class IntentClassifier:
    def __call__(self, doc: Doc) -> Doc:
        found = analysis(doc)
        found.intent = intent_rules.classify(doc, found)
        return doc


@Language.factory("sift_rules", default_config={"topics_file": None, "cues_file": None})
def make_rules(nlp: Language, name: str, topics_file: str | None, cues_file: str | None) -> RuleMatcher:
    return RuleMatcher(nlp, Path(topics_file or TOPICS_FILE), Path(cues_file or CUES_FILE))


@Language.factory("sift_language")
def make_language(nlp: Language, name: str) -> LanguageDetector:
    return LanguageDetector()


@Language.factory("sift_sentiment", default_config={"model_file": None})
def make_sentiment(nlp: Language, name: str, model_file: str | None) -> SentimentScorer:
    return SentimentScorer(SentimentModel.load(Path(model_file)) if model_file else SentimentModel.load())


@Language.factory("sift_intent")
def make_intent(nlp: Language, name: str) -> IntentClassifier:
    return IntentClassifier()
