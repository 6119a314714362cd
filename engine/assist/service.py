"""Assisted replies: a draft reply and a case summary from an OpenAI-compatible chat endpoint,
off unless ``SIFT_ASSIST_URL`` is set.

Three steps, so no database transaction is held while the model thinks: ``context`` reads the
case (the conversation, the customer panel without names or handles) and redacts personal data
(the NLP pattern entities of the configured labels, e-mail and phone by default) into
placeholders; ``ask`` sends only the redacted text and restores the placeholders in the answer;
``record`` marks the draft on the case's timeline (``reply.drafted``: the model and how much was
redacted, never the text). The CSR edits and sends the reply; nothing here sends anything to a
customer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy.orm import Session

from engine.cases import service as cases
from engine.config import get_settings
from engine.customers import service as customers
from engine.delivery import replies
from engine.errors import Conflict, EngineError
from engine.events import service as events
from engine.nlp import entities
from engine.signals import service as signals

SYSTEM = (
    "You help a customer-care agent answer a customer on social media. Reply with a JSON object "
    'with two strings: "summary" (the case in at most three sentences) and "draft" (a short, '
    "friendly reply to the customer's latest message, in their language). Placeholders in "
    "square brackets such as [EMAIL_1] stand for personal data: keep them exactly as written."
)
MAX_MESSAGES = 30


class AssistOff(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "Assisted replies are off; set SIFT_ASSIST_URL (and SIFT_ASSIST_MODEL, SIFT_ASSIST_KEY) to an "
            "OpenAI-compatible endpoint to turn them on."
        )


class AssistUnavailable(EngineError):
    status = 502

    def __init__(self, why: str) -> None:
        super().__init__(
            f"The assist endpoint gave no usable answer ({why}); write the reply yourself or retry."
        )


@dataclass
class Redactor:
    """Replaces personal data with numbered placeholders (the same value, the same placeholder)
    and puts it back in what comes home."""

    labels: frozenset[str]
    placeholders: dict[str, str] = field(default_factory=dict)  # original -> placeholder
    counts: dict[str, int] = field(default_factory=dict)

    def __call__(self, text: str) -> str:
        parts, at = [], 0
        for label, start, end in entities.find(text):
            if label not in self.labels:
                continue
            parts += [text[at:start], self._placeholder(label, text[start:end])]
            at = end
        return "".join([*parts, text[at:]])

    def _placeholder(self, label: str, value: str) -> str:
        if value not in self.placeholders:
            self.counts[label] = self.counts.get(label, 0) + 1
            self.placeholders[value] = f"[{label}_{self.counts[label]}]"
        return self.placeholders[value]

    def restore(self, text: str) -> str:
        for value, placeholder in self.placeholders.items():
            text = text.replace(placeholder, value)
        return text


@dataclass(frozen=True)
class Prompt:
    case_id: str
    messages: list[dict[str, str]]
    redactor: Redactor


@dataclass(frozen=True)
class Draft:
    draft: str
    summary: str
    model: str
    redacted: int


def enabled() -> bool:
    return bool(get_settings().assist_url)


def context(session: Session, case_id: str) -> Prompt:
    """The redacted conversation and customer panel of the case, as chat messages."""
    if not enabled():
        raise AssistOff()
    case = cases.get(session, case_id)
    labels = frozenset(x.strip() for x in get_settings().assist_pii_labels.split(",") if x.strip())
    redact = Redactor(labels)
    lines = [
        (s.received_at, f"Customer ({s.source}): {redact(s.text)}")
        for s in signals.for_case(session, case.id)
    ]
    lines += [
        (r.created_at, f"Agent ({r.channel}): {redact(r.text)}")
        for r in replies.list_replies(session, case_id=case.id, limit=MAX_MESSAGES)
    ]
    conversation = "\n".join(text for _, text in sorted(lines)[-MAX_MESSAGES:])
    panel: dict[str, Any] = {"priority": case.priority, "topic": case.topic, "status": case.status}
    if case.customer_id:
        customer = customers.get(session, case.customer_id)
        open_cases, total = customers.case_counts(session, customer.id)
        panel |= {
            "value_tier": customer.value_tier,
            "influence": round(customer.influence, 2),
            "open_cases": open_cases,
            "total_cases": total,
        }
    user = f"Case facts: {json.dumps(panel)}\n\nConversation, oldest first:\n{conversation}"
    return Prompt(case.id, [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}], redact)


def ask(prompt: Prompt, client: httpx.Client | None = None) -> Draft:
    """One chat completion; the answer with the personal data put back."""
    settings = get_settings()
    url = str(settings.assist_url).rstrip("/") + "/chat/completions"
    headers = {"Authorization": f"Bearer {settings.assist_key}"} if settings.assist_key else {}
    body = {"model": settings.assist_model, "messages": prompt.messages, "temperature": 0.3}
    own = client is None
    http = client or httpx.Client(timeout=settings.assist_timeout_seconds, follow_redirects=False)
    try:
        response = http.post(url, json=body, headers=headers)
    except httpx.HTTPError as err:
        raise AssistUnavailable(type(err).__name__) from err
    finally:
        if own:
            http.close()
    if response.status_code != 200:
        raise AssistUnavailable(f"HTTP {response.status_code}")
    summary, draft = _parse(response)
    return Draft(
        draft=prompt.redactor.restore(draft),
        summary=prompt.redactor.restore(summary),
        model=settings.assist_model,
        redacted=len(prompt.redactor.placeholders),
    )


def _parse(response: httpx.Response) -> tuple[str, str]:
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise AssistUnavailable("not a chat completion") from err
    if not isinstance(content, str) or not content.strip():
        raise AssistUnavailable("an empty answer")
    text = content.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        answer = json.loads(text)
    except ValueError:
        return "", content.strip()  # a model that ignored the format: its text is the draft
    if not isinstance(answer, dict):
        return "", content.strip()
    return str(answer.get("summary") or ""), str(answer.get("draft") or "")


def record(session: Session, case_id: str, actor: str, draft: Draft) -> None:
    """Marks the draft on the timeline; what it said stays with the CSR who asked."""
    cases.get(session, case_id)
    events.record(
        session,
        "reply.drafted",
        case_id=case_id,
        actor=actor,
        data={"model": draft.model, "redacted": draft.redacted},
        outbox=False,
    )
