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


def _listed(text: str | None = None) -> tuple[set[str], set[str]]:
    """Endpoints written in the contract, and those in sections whose heading marks them planned."""
    built: set[str] = set()
    planned: set[str] = set()
    contract = CONTRACT.read_text(encoding="utf-8") if text is None else text
    for section in re.split(r"^(?=#+ )", contract, flags=re.M):
        heading = section.splitlines()[0] if section else ""
        found = {f"{method} {_normal(path)}" for method, path in ENDPOINT.findall(section)}
        (planned if PLANNED in heading else built).update(found)
    return built, planned


def _served(client) -> set[str]:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    return {f"{method.upper()} {_normal(path)}" for path, ops in spec["paths"].items() for method in ops}


def test_the_contract_lists_endpoints_in_both_kinds_of_section():
    built, _ = _listed()
    assert len(built) > 20 and "GET /api/v1/trends" in built
    sample = "## Cases\n`GET /api/v1/cases/{id}`\n### Later (not built yet)\n`POST /api/v1/things/{id}`\n"
    assert _listed(sample) == ({"GET /api/v1/cases/{}"}, {"POST /api/v1/things/{}"})


def test_every_endpoint_the_contract_lists_exists(client):
    built, _ = _listed()
    assert sorted(built - _served(client)) == [], "listed in docs/api.md but not served"


def test_every_endpoint_the_app_serves_is_in_the_contract(client):
    built, _ = _listed()
    assert sorted(_served(client) - built) == [], "served but missing from docs/api.md"


def test_what_the_contract_marks_not_built_yet_is_not_served(client):
    _, planned = _listed()
    assert sorted(planned & _served(client)) == [], "built: move it out of the (not built yet) section"
