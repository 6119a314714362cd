"""Customer records imported from CSV: lifetime value, tier and the handles that
identify one person across channels.

Columns (header row required): ``external_ref`` (the CRM's id), ``name``,
``lifetime_value`` (a number), ``tier`` (optional: when empty it is derived
from lifetime value), ``handles`` (``source:handle`` separated by ``;`` or
spaces, e.g. ``twitter:@jane;instagram:@jane.doe``). Handles that already
belong to different customers make those customers one: their signals and
cases move to the surviving profile.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.cases.models import Case
from engine.customers.models import Customer, CustomerHandle
from engine.errors import InvalidInput
from engine.events import service as events
from engine.signals.models import Signal

REQUIRED = ("external_ref", "handles")
TIERS = (("platinum", 10_000.0), ("gold", 2_000.0), ("silver", 500.0), ("standard", 0.0))
MAX_ROWS = 100_000


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    errors: list[dict[str, str | int]] = field(default_factory=list)


def tier_for(lifetime_value: float | None) -> str | None:
    if lifetime_value is None:
        return None
    return next(name for name, floor in TIERS if lifetime_value >= floor)


def parse_handle(raw: str) -> str | None:
    source, sep, handle = raw.strip().partition(":")
    if not sep or not source.strip() or not handle.strip():
        return None
    return f"{source.strip().lower()}:{handle.strip().lower()}"


def import_csv(session: Session, text: str, *, actor: str | None) -> ImportReport:
    """Creates or updates customers from CSV text; a bad row is reported with its line and skipped."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(
            f"The CSV header lacks {', '.join(missing)}; the first line must name the columns "
            "external_ref, name, lifetime_value, tier, handles.",
            fields=[{"field": c, "message": "missing column", "line": 1} for c in missing],
        )
    report = ImportReport()
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as err:
            raise InvalidInput(
                f"The CSV cannot be read at line {reader.line_num}: {err}; fix the quoting and upload again.",
                fields=[{"field": "file", "message": str(err), "line": reader.line_num}],
            ) from err
        line = reader.line_num
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise InvalidInput(f"More than {MAX_ROWS} rows; split the file.")
        if None in row:
            report.errors.append({"line": line, "message": "the row has more fields than the header"})
            continue
        row = {k.strip(): (v or "").strip() for k, v in row.items()}
        problem = _check_row(row) or _import_row(session, row, report)
        if problem:
            report.errors.append({"line": line, "message": problem})
    events.record(
        session,
        "customers.imported",
        actor=actor,
        data={
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "merged": report.merged,
        },
        outbox=False,
    )
    return report


LIMITS = {"external_ref": 200, "name": 200, "tier": 32, "lifetime_value": 40, "handles": 3000}


def _check_row(row: dict[str, str]) -> str | None:
    """What makes a row unstorable, said before anything of it is written."""
    for column, value in row.items():
        if "\x00" in value:
            return f"{column} contains a NUL character"
        if column in LIMITS and len(value) > LIMITS[column]:
            return f"{column} is longer than {LIMITS[column]} characters"
    for handle in row.get("handles", "").replace(";", " ").split():
        if len(handle) > 300:
            return "a handle is longer than 300 characters"
    ltv = row.get("lifetime_value")
    if ltv:
        try:
            number = float(ltv)
        except ValueError:
            return f"lifetime_value {ltv[:40]!r} is not a number"
        if not math.isfinite(number) or number < 0:
            return f"lifetime_value {ltv[:40]!r} must be a finite number of 0 or more"
    return None


def _import_row(session: Session, row: dict[str, str], report: ImportReport) -> str | None:
    ref = row.get("external_ref", "")
    if not ref:
        return "external_ref is empty"
    raw_handles = [h for h in row.get("handles", "").replace(";", " ").split() if h]
    handles = [parse_handle(h) for h in raw_handles]
    if not handles or any(h is None for h in handles):
        return "handles must be source:handle pairs such as twitter:@jane"
    value: float | None = None
    if row.get("lifetime_value"):
        try:
            value = float(row["lifetime_value"])
        except ValueError:
            return f"lifetime_value {row['lifetime_value']!r} is not a number"
    tier = row.get("tier") or tier_for(value)
    owners = _owners(session, ref, [h for h in handles if h])
    if owners:
        survivor, others = owners[0], owners[1:]
        for other in others:
            merge(session, survivor, other)
            report.merged += 1
        report.updated += 1
    else:
        survivor = Customer()
        session.add(survivor)
        report.created += 1
    survivor.external_ref = ref
    survivor.display_name = row.get("name") or survivor.display_name
    survivor.lifetime_value = value if value is not None else survivor.lifetime_value
    survivor.value_tier = tier or survivor.value_tier
    session.flush()
    known = set(
        session.scalars(select(CustomerHandle.handle).where(CustomerHandle.customer_id == survivor.id))
    )
    for handle in handles:
        if handle and handle not in known:
            session.add(CustomerHandle(handle=handle, customer_id=survivor.id))
    session.flush()
    return None


def _owners(session: Session, ref: str, handles: list[str]) -> list[Customer]:
    """Existing customers this row speaks of: the one with its external_ref first, then the
    owners of its handles in the order the row lists them (the first handle is the primary
    identity, so its owner survives a merge)."""
    found: list[Customer] = []
    by_ref = session.scalar(select(Customer).where(Customer.external_ref == ref))
    if by_ref is not None:
        found.append(by_ref)
    rows = session.execute(
        select(CustomerHandle.handle, Customer)
        .join(Customer, CustomerHandle.customer_id == Customer.id)
        .where(CustomerHandle.handle.in_(handles))
    )
    owner_of = {handle: customer for handle, customer in rows}
    for handle in handles:
        customer = owner_of.get(handle)
        if customer is not None and all(customer.id != c.id for c in found):
            found.append(customer)
    return found


def merge(session: Session, survivor: Customer, other: Customer) -> None:
    """Moves every handle, signal and case of ``other`` to ``survivor``; ``other`` points at it."""
    for model in (CustomerHandle, Signal, Case):
        session.execute(
            update(model)
            .where(model.customer_id == other.id)
            .values(customer_id=survivor.id)
            .execution_options(synchronize_session=False)
        )
    survivor.influence = max(survivor.influence, other.influence)
    if other.external_ref and other.external_ref != survivor.external_ref:
        other.external_ref = None
    other.merged_into = survivor.id
    session.flush()
