"""/docs and /redoc work without internet, and the OpenAPI document declares the API key."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tests.helpers import auth

# what each page must load, and what the asset must look like to be the real thing
PAGES = {
    "/docs": {".css": "text/css", ".js": "javascript", ".png": "image/png"},
    "/redoc": {".js": "javascript", ".png": "image/png"},
}
MARKERS = {"/docs": b"SwaggerUIBundle", "/redoc": b"Redoc"}


class _References(HTMLParser):
    """Every URL a page makes the browser load: scripts, stylesheets, icons, images, the spec."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "redoc": "spec-url"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value]


def _references(html: str) -> list[str]:
    parser = _References()
    parser.feed(html)
    # Swagger UI gets the spec's URL in its inline start-up script
    return parser.urls + re.findall(r"\burl: '([^']+)'", html)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_docs_pages_load_only_assets_sift_serves_itself(client, page):
    r = client.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "://" not in r.text, "the page names an address on another host"
    urls = _references(r.text)
    assert "/openapi.json" in urls
    assets = [u for u in urls if u != "/openapi.json"]
    assert {u[u.rfind(".") :] for u in assets} == set(PAGES[page])
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        got = client.get(url)
        assert got.status_code == 200, url
        assert PAGES[page][url[url.rfind(".") :]] in got.headers["content-type"], (url, got.headers)
    script = next(u for u in assets if u.endswith(".js"))
    assert MARKERS[page] in client.get(script).content


def test_the_openapi_document_declares_the_bearer_key_for_all_but_healthz(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert spec["security"] == [{"bearerAuth": []}]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path in ("/healthz", "/readyz", "/metrics"):
                assert operation["security"] == [], f"{path} needs no key"
            else:
                assert "security" not in operation, f"{method} {path} overrides the global key"
            headers = [p["name"].lower() for p in operation.get("parameters", []) if p["in"] == "header"]
            assert "authorization" not in headers, f"{method} {path} lists the key as a parameter"


def test_the_openapi_document_gives_the_error_shape_sift_sends(client, keys):
    """A client generated from the document must be able to read Sift's errors: every operation
    names the Error schema for 422 and for any other error, and real errors validate against it."""
    import jsonschema

    spec = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    error = spec["components"]["schemas"]["Error"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status in ("422", "default"):
                if status == "422" and status not in operation["responses"]:
                    continue
                ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", f"{method} {path} {status}"
    assert "200" in spec["paths"]["/api/v1/signals"]["post"]["responses"], "a repeated signal is 200"
    got = [
        client.get("/api/v1/cases", headers=auth("not-a-key")),
        client.get("/api/v1/cases", params={"limit": "many"}, headers=auth(keys["csr"])),
        client.post(
            "/api/v1/signals",
            content=b"{",
            headers={**auth(keys["integration"]), "Content-Type": "application/json"},
        ),
        client.get("/api/v1/cases/nope", headers=auth(keys["csr"])),
    ]
    assert [r.status_code for r in got] == [401, 422, 400, 404]
    for r in got:
        jsonschema.validate(r.json(), error)


def test_docs_and_healthz_need_no_key_while_the_api_does(client, keys):
    for url in ("/docs", "/redoc", "/openapi.json", "/healthz", "/readyz"):
        assert client.get(url).status_code == 200, url
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/api/v1/cases", headers=auth(keys["csr"])).status_code == 200
