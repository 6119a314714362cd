"""Customer 360: one person across channels, value tiers from CRM records."""

from __future__ import annotations

from tests.helpers import auth, drain, signal_body


def _post(client, keys, **kw) -> dict:
    r = client.post("/api/v1/signals", json=signal_body(**kw), headers=auth(keys["integration"]))
    return r.json()


def test_the_same_handle_on_one_channel_is_one_customer(client, keys):
    _post(client, keys, author={"handle": "@Jane", "followers": 50})
    _post(
        client, keys, author={"handle": "@jane", "followers": 5000}, text="@acme still waiting on my refund"
    )
    drain()
    profile = client.get("/api/v1/customers?handle=twitter:@jane", headers=auth(keys["csr"])).json()
    assert profile["handles"] == ["twitter:@jane"]
    assert len(profile["signals"]) == 2
    assert profile["influence"] > 0.5  # the larger reach counts


def test_csv_import_merges_two_channels_into_one_profile(client, keys):
    _post(client, keys, source="twitter", author={"handle": "@jane"})
    _post(
        client,
        keys,
        source="instagram",
        author={"handle": "@jane.doe"},
        text="@acme where is my parcel?? still waiting",
    )
    drain()
    sup = auth(keys["supervisor"])
    twitter = client.get("/api/v1/customers?handle=twitter:@jane", headers=sup).json()
    insta = client.get("/api/v1/customers?handle=instagram:@jane.doe", headers=sup).json()
    assert twitter["id"] != insta["id"]

    csv_text = (
        "external_ref,name,lifetime_value,tier,handles\n"
        "crm-1,Jane Doe,12500,,twitter:@jane;instagram:@jane.doe\n"
        "crm-2,Bad Row,abc,,twitter:@bad\n"
        "crm-3,No Handles,10,,\n"
    )
    r = client.post(
        "/api/v1/customers:import", content=csv_text.encode(), headers={**sup, "Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["rows"] == 3 and report["updated"] == 1 and report["merged"] == 1
    assert [e["line"] for e in report["errors"]] == [3, 4]

    merged = client.get(f"/api/v1/customers/{insta['id']}", headers=sup).json()
    assert merged["id"] == twitter["id"]
    assert merged["handles"] == ["instagram:@jane.doe", "twitter:@jane"]
    assert merged["channels"] == ["instagram", "twitter"]
    assert merged["value_tier"] == "platinum" and merged["lifetime_value"] == 12500
    assert {s["source"] for s in merged["signals"]} == {"twitter", "instagram"}
    assert len(merged["cases"]) == 2
    case = client.get(f"/api/v1/cases/{merged['cases'][0]['id']}", headers=sup).json()
    assert case["customer"]["id"] == merged["id"]
    assert case["customer"]["open_cases"] == 2 and case["customer"]["total_cases"] == 2


def test_import_needs_the_header_and_a_supervisor(client, keys):
    r = client.post(
        "/api/v1/customers:import",
        content=b"name,handles\nx,twitter:@x\n",
        headers={**auth(keys["supervisor"]), "Content-Type": "text/csv"},
    )
    assert r.status_code == 422 and r.json()["fields"][0]["field"] == "external_ref"
    r = client.post("/api/v1/customers:import", content=b"x", headers=auth(keys["csr"]))
    assert r.status_code == 403
    r = client.post("/api/v1/customers:import", content=b"\xff\xfe", headers=auth(keys["supervisor"]))
    assert r.status_code == 422


def test_unknown_customer_is_404(client, keys):
    assert client.get("/api/v1/customers/nope", headers=auth(keys["csr"])).status_code == 404
    assert (
        client.get("/api/v1/customers?handle=twitter:@nobody", headers=auth(keys["csr"])).status_code == 404
    )


def test_a_valued_customer_s_complaint_is_routed_high(client, keys):
    csv_text = "external_ref,name,lifetime_value,tier,handles\ncrm-9,Val,2500,,twitter:@val\n"
    r = client.post(
        "/api/v1/customers:import",
        content=csv_text.encode(),
        headers={**auth(keys["supervisor"]), "Content-Type": "text/csv"},
    )
    assert r.json()["created"] == 1
    gold = _post(
        client, keys, author={"handle": "@val", "followers": 3}, text="@acme where is my refund? order A55555"
    )
    plain = _post(
        client,
        keys,
        author={"handle": "@nobody", "followers": 3},
        text="@acme where is my refund? order A55556",
    )
    drain()
    csr = auth(keys["csr"])
    routed = {
        sid: client.get(f"/api/v1/signals/{sid}", headers=csr).json()["routing"]
        for sid in (gold["id"], plain["id"])
    }
    assert (
        routed[gold["id"]]["rule_id"] == "rule_valued_complaint" and routed[gold["id"]]["priority"] == "high"
    )
    assert routed[plain["id"]]["priority"] != "high"


def test_import_reports_unstorable_rows_by_line_and_keeps_the_rest(client, keys):
    rows = [
        b"external_ref,name,lifetime_value,tier,handles",
        b"crm-1,A\x00B,10,,twitter:@nul",
        b"crm-2,Inf,1e400,,twitter:@inf",
        b"crm-3,NaN,nan,,twitter:@nan",
        b"x" * 300 + b",Long,1,,twitter:@long",
        b"crm-5,Handle,1,,twitter:@" + b"h" * 400,
        b"crm-6,Extra,1,,twitter:@extra,surplus",
        b"crm-7,Fine,700,,twitter:@fine",
    ]
    r = client.post(
        "/api/v1/customers:import",
        content=b"\n".join(rows) + b"\n",
        headers={**auth(keys["supervisor"]), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["created"] == 1 and [e["line"] for e in report["errors"]] == [2, 3, 4, 5, 6, 7]
    assert (
        client.get("/api/v1/customers?handle=twitter:@fine", headers=auth(keys["csr"])).json()["value_tier"]
        == "silver"
    )
    broken = client.post(
        "/api/v1/customers:import",
        content=b'external_ref,name,lifetime_value,tier,handles\n"crm-8,A,1,,twitter:@q\n',
        headers={**auth(keys["supervisor"]), "Content-Type": "text/csv"},
    )
    assert broken.status_code in (200, 422)
