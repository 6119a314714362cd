"""The pages name their icon, so browsers do not ask for a /favicon.ico that is not there (a
console error on every page)."""

from __future__ import annotations


def test_the_sign_in_page_links_an_icon_that_is_served(client):
    page = client.get("/signin")
    assert page.status_code == 200
    assert '<link rel="icon" href="/static/favicon.svg"' in page.text
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.text.startswith("<svg")
