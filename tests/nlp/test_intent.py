"""Intent as a care team would read it: complaints need a target and a bad experience."""

from __future__ import annotations

import pytest

from engine.nlp import enrich


@pytest.mark.parametrize(
    "text",
    [
        "@AcmeCare ordered on Monday, tracking hasn't moved in 6 days",
        "@acme day 3 and I still haven't received the replacement charger you promised",
        "so the Acme app logs me out every time I open it. cool cool",
        "my new Acme Phone won't turn on after the update",
        "Waited 40 minutes on hold with @AcmeCare and then got cut off",
        "I've been charged twice for my Acme Plus subscription this month",
    ],
)
def test_brand_complaints_without_strong_negative_words(text: str) -> None:
    assert enrich(text)["intent"] == "complaint"


@pytest.mark.parametrize(
    "text",
    [
        "thanks for nothing @AcmeCare, 3 weeks and my refund is still pending",
        "great job losing my bag again @united",
        "Love how @AcmeCare cancels my order without telling me",
        "#greatservice @acme, two hours for a pizza that arrived cold",
    ],
)
def test_sarcasm_about_a_service_is_a_complaint(text: str) -> None:
    assert enrich(text)["intent"] == "complaint"


@pytest.mark.parametrize(
    "text",
    [
        "Trump's cabinet picks are a disaster and the GOP still supports him. Terrible.",
        "The senate vote on Medicare was a betrayal of every worker, a disgrace",
        "Another airstrike on Aleppo killed dozens. The world keeps failing Syria.",
        "@user you people broke the economy and now blame the immigrants. Pathetic.",
        "Galaxy Note 7 recalled worldwide after batteries caught fire",
    ],
)
def test_political_or_news_negativity_is_not_a_complaint(text: str) -> None:
    assert enrich(text)["intent"] != "complaint"


def test_switching_away_is_a_cancellation() -> None:
    text = "Just cancelled my Acme Plus subscription, switching to a competitor"
    assert enrich(text)["intent"] == "cancellation"


def test_referral_code_is_spam() -> None:
    assert enrich("Use my code ACME50 to get $50 off your first ride #uber")["intent"] == "spam"


def test_praise_needs_a_target() -> None:
    assert (
        enrich("Shout out to @AcmeCare, replacement phone arrived next day. Great service!")["intent"]
        == "praise"
    )
    assert enrich("Thank you for your service to Americans for your entire career")["intent"] != "praise"


def test_brand_hashtag_is_a_catalogue_entity() -> None:
    entities = enrich("Horrible trips this week #uber")["entities"]
    assert {"label": "COMPETITOR", "text": "Uber", "pii": False} in entities
