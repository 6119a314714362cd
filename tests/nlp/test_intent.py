"""Intent as a care team would read it: complaints need a target and a bad experience."""

from __future__ import annotations

import pytest

from engine.nlp import enrich


@pytest.mark.parametrize(
    "text",
    [
        "@AcmeCare ordered on Monday, tracking hasn't moved in 6 days",
        "@acme day 3 and I still haven't received the replacement charger you promised",
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
        "Love how @AcmeCare cancels my order without telling me",
        "#greatservice @acme, two hours for a pizza that arrived cold",
    ],
)
def test_sarcasm_about_a_service_is_a_complaint(text: str) -> None:
    assert enrich(text)["intent"] == "complaint"


# Sarcasm the complaint model cannot be asked to flag outright: the annotated corpus it learns from
# holds almost none (the intent rules' sarcasm pattern fires on 3 of its 9,153 training tweets), and
# "cool cool" or "great job" read positive. What it must do is read the failure: the same positive
# words said of a failure make more of a complaint than said of a success.
@pytest.mark.parametrize(
    ("sarcastic", "sincere"),
    [
        ("great job losing my bag again @united", "great job finding my bag again @united"),
        (
            "so the Acme app logs me out every time I open it. cool cool",
            "so the Acme app remembers me every time I open it. cool cool",
        ),
        (
            "Love how @AcmeCare cancels my order without telling me",
            "Love how @AcmeCare texts me when my order ships",
        ),
        (
            "#greatservice @acme, two hours for a pizza that arrived cold",
            "#greatservice @acme, ten minutes for a pizza that arrived hot",
        ),
    ],
)
def test_positive_words_about_a_failure_score_above_the_same_words_about_a_success(
    sarcastic: str, sincere: str
) -> None:
    assert enrich(sarcastic)["complaint_score"] > enrich(sincere)["complaint_score"]


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


# The complaint model learned from annotators that most tweets to a care handle about a
# replacement, an order or a delay are complaints; praise and plain questions addressed to one
# can come close to its threshold. They stay below the routing table's 0.6, where a complaint
# opens a case at normal priority.
ROUTING_COMPLAINT = 0.6


@pytest.mark.parametrize(
    "text",
    [
        "Shout out to @AcmeCare, replacement phone arrived next day. Great service!",
        "@AcmeCare how do I reset my router password?",
        "Acme Phone delayed to spring after supply problems via @user https://t.co/abc",
        "Thanks @AcmeCare, sorted in 5 minutes",
    ],
)
def test_praise_questions_and_headlines_do_not_route_as_complaints(text: str) -> None:
    assert enrich(text)["complaint_score"] < ROUTING_COMPLAINT


def test_praise_needs_a_target() -> None:
    assert enrich("Thanks @AcmeCare, sorted in 5 minutes")["intent"] == "praise"
    assert enrich("Thank you for your service to Americans for your entire career")["intent"] != "praise"


def test_complaint_score_is_a_probability_that_orders_mentions() -> None:
    clear = enrich("@delta my flight was delayed 4 hours and nobody told us anything")["complaint_score"]
    chatter = enrich("what a lovely sunny morning in the park with the dog")["complaint_score"]
    assert 0.0 <= chatter < 0.5 < clear <= 1.0


def test_brand_hashtag_is_a_catalogue_entity() -> None:
    entities = enrich("Horrible trips this week #uber")["entities"]
    assert {"label": "COMPETITOR", "text": "Uber", "pii": False} in entities


@pytest.mark.parametrize(
    "text",
    [
        "my Acme Phone was delayed AGAIN, third week now",
        "the Acme app isn't launching since this morning",
    ],
)
def test_trouble_with_a_named_product_is_a_complaint_whatever_the_tone(text: str) -> None:
    assert enrich(text)["intent"] == "complaint"


def test_a_price_said_too_high_scores_above_the_same_price_said_fair() -> None:
    """An opinion of the price, addressed to no one: the annotated tweets are addressed to companies,
    and the model chosen on them puts this one under its threshold; it must still read the price
    complaint as more of a complaint than the praise of the same price."""
    dear = enrich("Acme Plus is way too expensive for what it does")["complaint_score"]
    fair = enrich("Acme Plus is well worth the price for what it does")["complaint_score"]
    assert dear > fair


@pytest.mark.parametrize(
    "text",
    [
        "Signed 8x10 photo of the 1998 team, mint condition #ebay #collectibles",
        "Vintage teddy bear 15in #gifts #toys buy it now",
        "please follow me it would mean the world!!",
    ],
)
def test_listings_and_follow_begging_are_spam(text: str) -> None:
    assert enrich(text)["intent"] == "spam"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("does anyone know when the Acme store opens on Sunday?", "question"),
        ("does anyone know how to reset the password of an Acme router?", "question"),
        ("Did the self proclaimed petty queen block me?!?! LMAO", "other"),
        ("Is This the Most Bizarre Commercial You've Ever Seen? via @user", "other"),
    ],
)
def test_questions_ask_for_help_not_rhetoric(text: str, expected: str) -> None:
    assert enrich(text)["intent"] == expected
