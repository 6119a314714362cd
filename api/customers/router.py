from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel
from sqlalchemy.orm import Session

from api.cases import views
from api.cases.schemas import CaseSummary
from api.deps import Caller, DbSession
from engine.customers import importer
from engine.customers import service as customers
from engine.errors import InvalidInput

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
READERS = ("csr", "supervisor")


class SignalBrief(BaseModel):
    id: str
    source: str
    text: str
    received_at: AwareDatetime
    case_id: str | None
    sentiment: str | None


class CustomerOut(BaseModel):
    id: str
    name: str | None
    handles: list[str]
    channels: list[str]
    influence: float
    value_tier: str | None
    lifetime_value: float | None
    external_ref: str | None
    cases: list[CaseSummary]
    signals: list[SignalBrief]


class ImportOut(BaseModel):
    rows: int
    created: int
    updated: int
    merged: int
    errors: list[dict[str, Any]]


def _out(p: customers.Profile) -> CustomerOut:
    c = p.customer
    return CustomerOut(
        id=c.id,
        name=c.display_name,
        handles=p.handles,
        channels=sorted({h.split(":", 1)[0] for h in p.handles}),
        influence=c.influence,
        value_tier=c.value_tier,
        lifetime_value=c.lifetime_value,
        external_ref=c.external_ref,
        cases=[views.summary(case) for case in p.cases],
        signals=[
            SignalBrief(
                id=s.id,
                source=s.source,
                text=s.text,
                received_at=s.received_at,
                case_id=s.case_id,
                sentiment=((s.enrichment or {}).get("sentiment") or {}).get("label"),
            )
            for s in p.signals
        ],
    )


@router.get("", response_model=CustomerOut)
def find_by_handle(handle: str, caller: Caller, session: DbSession) -> CustomerOut:
    """The customer behind an identity such as ``twitter:@jane``."""
    caller.require(*READERS)
    return _out(customers.profile(session, customers.by_handle(session, handle).id))


@router.get("/{customer_id}", response_model=CustomerOut)
def get_customer(customer_id: str, caller: Caller, session: DbSession) -> CustomerOut:
    caller.require(*READERS)
    return _out(customers.profile(session, customer_id))


@router.post(":import", response_model=ImportOut)
async def import_customers(request: Request, caller: Caller, session: DbSession) -> ImportOut:
    """CSV body (``text/csv``) with external_ref, name, lifetime_value, tier, handles."""
    caller.require("supervisor")
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InvalidInput("The CSV is not UTF-8 text; save it as UTF-8 and upload again.") from err
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_import, session, text, caller.name)


def _import(session: Session, text: str, actor: str) -> ImportOut:
    report = importer.import_csv(session, text, actor=actor)
    return ImportOut(**report.__dict__)
