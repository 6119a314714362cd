from __future__ import annotations

from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    model_validator,
)

from engine.signals.service import NewSignal


def _walk_strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(k)
            yield from _walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk_strings(v)


def _refuse_unstorable(data: Any) -> Any:
    """NUL characters and lone surrogates cannot be stored as text on every database."""
    for text in _walk_strings(data):
        if "\x00" in text:
            raise ValueError("strings must not contain NUL (\\u0000) characters")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError("strings must be valid Unicode (no lone surrogate escapes)") from err
    return data


class AuthorIn(BaseModel):
    """Attributes beyond these four are kept as sent: clients forward the author object a
    social API returns (ids, avatars, bios, counts), and the customer profile may use them."""

    model_config = ConfigDict(extra="allow")

    handle: StrictStr | None = Field(default=None, max_length=300)
    name: StrictStr | None = Field(default=None, max_length=300)
    followers: StrictInt | None = Field(default=None, ge=0)
    verified: StrictBool | None = None


class SignalIn(BaseModel):
    """A mention as another service posts it. An unknown field is refused, not dropped:
    ``posted_at`` for ``created_at`` would otherwise lose the time without a word;
    anything a client wants kept goes in ``metadata``."""

    model_config = ConfigDict(extra="forbid")

    source: StrictStr = Field(min_length=1, max_length=64, examples=["twitter"])
    external_id: StrictStr = Field(min_length=1, max_length=256, examples=["1626"])
    text: StrictStr = Field(min_length=1, max_length=20_000)
    author: AuthorIn | None = None
    url: StrictStr | None = Field(default=None, max_length=2048)
    created_at: AwareDatetime | None = None
    in_reply_to: StrictStr | None = Field(default=None, max_length=256)
    metadata: dict[str, Any] = Field(default_factory=dict)

    _check = model_validator(mode="before")(classmethod(lambda cls, data: _refuse_unstorable(data)))

    def to_engine(self) -> NewSignal:
        return NewSignal(
            source=self.source,
            external_id=self.external_id,
            text=self.text,
            author=self.author.model_dump(exclude_none=True) if self.author else {},
            url=self.url,
            posted_at=self.created_at,
            in_reply_to=self.in_reply_to,
            metadata=self.metadata,
        )


class BatchIn(BaseModel):
    signals: list[Any] = Field(min_length=1, max_length=1000)


class AcceptedOut(BaseModel):
    id: str
    status: str
    duplicate: bool


class ItemError(BaseModel):
    error: str
    detail: str
    fields: list[dict[str, Any]] | None = None


class BatchOut(BaseModel):
    results: list[AcceptedOut | ItemError]


class SignalOut(BaseModel):
    """Read straight from the stored row; ``created_at`` and ``metadata`` are stored as
    ``posted_at`` and ``meta``."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    source: str
    external_id: str
    text: str
    author: dict[str, Any]
    url: str | None
    created_at: AwareDatetime | None = Field(validation_alias="posted_at")
    received_at: AwareDatetime
    in_reply_to: str | None
    metadata: dict[str, Any] = Field(validation_alias="meta")
    status: str
    attempts: int
    enrichment: dict[str, Any] | None
    routing: dict[str, Any] | None
    customer_id: str | None
    case_id: str | None
    duplicate_of: str | None = Field(
        description="an ignored duplicate: the first signal with the same text from the same author"
    )
    error: str | None


class SignalPage(BaseModel):
    items: list[SignalOut]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last")
