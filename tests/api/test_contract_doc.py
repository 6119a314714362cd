"""docs/api.md, the HTTP contract, stays true to the app: every endpoint it lists exists, every
endpoint of the app is listed, and what it marks as not built yet does not exist yet."""

from __future__ import annotations

import re
from pathlib import Path

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ENDPOINT = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)[^`]*`")
PLANNED = "(not built yet)"


def _normal(path: str) -> str:
    """Path parameters compare by position, not name: /cases/{id} is /cases/{case_id}."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _listed() -> tuple[set[str], set[str]]:
    """Endpoints written in the contract, and those in sections whose heading marks them planned."""
    built: set[str] = set()
    planned: set[str] = set()
    for section in re.split(r"^(?=#+ )", CONTRACT.read_text(encoding="utf-8"), flags=re.M):
        heading = section.splitlines()[0] if section else ""
        found = {f"{method} {_normal(path)}" for method, path in ENDPOINT.findall(section)}
        (planned if PLANNED in heading else built).update(found)
    return built, planned


def _served(client) -> set[str]:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    return {f"{method.upper()} {_normal(path)}" for path, ops in spec["paths"].items() for method in ops}


def test_the_contract_lists_endpoints_in_both_kinds_of_section():
    built, planned = _listed()
    assert len(built) > 20 and "GET /api/v1/trends" in built
    assert "POST /api/v1/cases/{}/csat" in planned  # the parser reads the file as written


def test_every_endpoint_the_contract_lists_exists(client):
    built, _ = _listed()
    assert sorted(built - _served(client)) == [], "listed in docs/api.md but not served"


def test_every_endpoint_the_app_serves_is_in_the_contract(client):
    built, _ = _listed()
    assert sorted(_served(client) - built) == [], "served but missing from docs/api.md"


def test_what_the_contract_marks_not_built_yet_is_not_served(client):
    _, planned = _listed()
    assert sorted(planned & _served(client)) == [], "built: move it out of the (not built yet) section"
