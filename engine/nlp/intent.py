"""Intent of a mention: spam and cancellation by rules, complaint by the trained model, then rules.

Order matters (first that fires wins): spam, cancellation, complaint,
purchase intent, question, praise, other. Complaint is decided by the
complaint model (``engine/nlp/complaint.py``, trained on brand-care tweets
judged by annotators): its calibrated probability, ``complaint_score``, at
or above the threshold chosen on its training folds. The rules below are
also the model's cues (``rule_features``): each says whether a pattern of
complaints is in the text, and the model weighs them with the words.

The rules follow ``docs/nlp/intent-guideline.md`` and were tuned on its
``dev`` fold only. Spam is bulk promotion: referral codes and giveaways, and
the bulk of it on Twitter, product listings, adult bait and follow begging.

The complaint rule (``is_complaint``, now a cue of the model) needs a
*target* (a catalogue brand or product, a brand hashtag, an
order/flight/tracking number, or service vocabulary such as order, delivery,
refund, flight, support, account, bill, app) and a *bad experience*: an
unresolved or dissatisfied cue, sarcasm, or a service failure said outright
("won't turn on", "haven't received", "way too expensive"); or words of
trouble ("delayed", "worst", "broken") about a named catalogue entity that
are not praise and not a shared headline, or in a mention that reads
negative and speaks in the first person. With political or news vocabulary,
it must read negative and be said in the first person singular.

A question asks for something the author needs: help-seeking wording
("how do I", "does anyone know", "when will"), or a plain question about a
target. Rhetorical questions and shared headlines are not questions.
"""

from __future__ import annotations

from engine.nlp.analysis import Analysis
from engine.nlp.resources import compile_guarded as _compile

_SPAM = _compile(
    r"\b(?:giveaway|give away|win an? (?:free|new|\$)|chance to win|enter to win|entered to win|you can enter|"
    r"follow (?:and|&|\+) (?:rt|retweet)|follow back|followback|free followers|click here|check out my|"
    r"promo ?code|promocode|use (?:my )?code|use the code|code:|discount code|dm for|earn \$|make money|"
    r"work from home|limited offer|free shipping|free rides?|free mp3|sign up using|sign ?up to drive|"
    r"drive for|best odds|free ?tip|first [\d,]+ (?:people|customers|fans)|vouchers?|porn\b|"
    r"link in (?:his|her|my|our|the) bio|perfect (?:christmas |valentine'?s? )?gift|"
    r"new #?(?:android|ios|iphone) #?app)|#freebie|#promo|#giveaway"
)
_LISTING = _compile(  # product listings, adult bait, follow begging: the bulk of spam on Twitter
    r"\b(?:e-?bay\b|etsy\b|for sale\b|buy ?it ?now|shop (?:it|now|the)\b|sale ends|\d+% off|save \d+%|coupon|discount|"
    r"rookie\b|rc\b|auto #|signed (?:ring|photos?|jersey|cards?|ball|auto\w*|8x10)|autographed|mint condition|"
    r"case cover|size (?:xs|s|m|l|xl|small|medium|large)\b|sold this|dm me\b|text (?:me|or dm)|nude\b|"
    r"sexy (?:girls?|lesbian)|follow me\b|follow =>|\d for \$\d+|free picks|immigrate\b|essay writing|"
    r"drink specials|grand opening)"
    r"|#(?:ebay|etsy|collectibles?|forsale|cards?|gifts?|toys?|teddybear|nsfw|internship|seo)\b"
)  # one leading \b for the words: Python's re tries every top-level alternative at every position
_CANCEL = _compile(
    r"\b(?:cancel(?:l?ing|l?ed)? my|close my account|closing my account|switch(?:ing|ed)? to|"
    r"unsubscrib\w*|never (?:again|buy\w*|using|ordering|flying|shopping)|done with (?:you|@)|"
    r"take my business|lost a (?:loyal )?customer|goodbye @|leaving @|#boycott|"
    r"(?:now )?i (?:have|had) (?:to )?(?:get|buy|switch to) (?:an? )?(?:iphone|android|samsung))"
)
_QUESTION_START = _compile(
    r"(?:^|[.!?]\s+|^(?:@\w+\s+)+)(?:how|what|when|where|why|who|which|can|could|does|do|is|are|will|"
    r"would|should|did|has|have|anyone|any idea)\b[^.!]*\?"
    r"|^(?:@\w+\s+)*any (?:update|news|word|eta)\b"
)
_HELP = _compile(
    r"\b(?:how (?:do|can|should|would|does) (?:i|we|u|you|one)\b|how to\b|can (?:i|we|u|someone|anyone)\b|"
    r"could (?:i|someone|anyone)\b|do (?:you|u|y'?all) know|does any ?(?:one|body)|any ?(?:one|body) (?:know|have|got|tried)|"
    r"any (?:idea|update|news|word|eta|tips?|recommendations?|suggestions?|advice|particular)s?\b|"
    r"is (?:it|this|that) true|when (?:is|will|does|do|are|can)\b|what time|where (?:is|can|do|are|should)\b|"
    r"is there (?:a|an|any)\b|are there any|should i\b|help me|please (?:tell|help|let me know|advise)|"
    r"what if|does (?:that|it|this) (?:make|mean|work|count))"
)
_HEADLINE = _compile(r"https?:|\bread (?:more|here)\b|\bvia @|related articles")  # a shared article's title
_PURCHASE = _compile(
    r"\b(?:want(?:s|ed)? (?:to buy|to get|a new|an? (?:ps4|xbox|iphone|ipad|phone|laptop))|"
    r"wanna (?:buy|get)|(?<!was )gonna (?:buy|get)|going to buy|i want an? |"
    r"thinking (?:of|about) (?:buying|getting)|planning to (?:buy|get)|pre-?order\w*|"
    r"where(?:'s| is)? (?:the best place to|can i|do i) (?:buy|get)|need (?:a new|to buy)|"
    r"can'?t wait to (?:get|buy)|may upgrade|will upgrade|saving up for|in the market for|"
    r"should i (?:buy|get)|how much (?:is|does|are)|buying (?:a|the|my) new)\b"
)
_PRAISE = _compile(
    r"\b(?:thank(?:s| you)|love (?:my|the|this|it|you|@)|loving|really like|(?:you )?should try|try it|"
    r"the best|best \w+ ever|glad (?:i|we) (?:have|got|bought|chose|went)|"
    r"great (?:service|job|app|product|experience)s?|awesome|amazing|best (?:service|customer|app|phone)|"
    r"kudos|shout ?out|well done|impressed|highly recommend|mind ?blowing|killer app|favs?|favou?rite)\b"
)
_SERVICE_WORDS = _compile(
    r"\b(?:orders?|ordered|deliver(?:y|ed|ies)?|parcel|package|shipping|shipment|courier|refund\w*|"
    r"money back|flights?|airlines?|airport|luggage|baggage|boarding|customer (?:service|care|support)|"
    r"support team|tech support|helpline|call cent(?:er|re)|accounts?|bill|billing|invoice|charged|"
    r"subscription|app|apps|website|site|link|stream\w*|on demand|episodes|"
    r"wi-?fi|internet|router|broadband|phone|laptop|console|battery|"
    r"e-?tickets?|tickets?|driver|ride|bus|train|restaurant|store|staff|bank|payroll|premium|firmware|software|"
    r"update|beta|controller|stylus|download\w*|signed me out|logged me out)\b"
)
_FAILURE = _compile(  # a service failure said outright: a complaint whatever the sentiment model says
    r"\b(?:(?:still|never) (?:haven'?t|hasn'?t|not|no|received|got|arrived|waiting)|"
    r"haven'?t (?:received|got|heard)|(?:did not|didn'?t|never) (?:receive|arrive|get|show)|"
    r"(?:hasn'?t|has not|haven'?t|have not|isn'?t|not) (?:moved|updated|shipped|arrived|been (?:delivered|"
    r"shipped|fixed|refunded|resolved|sorted))|"
    r"(?:can'?t|cannot|couldn'?t|unable to)(?: even| seem to| still)? (?:play|log ?in|sign ?in|connect|"
    r"access|use|download|load|get through|reach|find)|no luck (?:with|getting|finding)|"
    r"(?<!\bway )(?<!\bfar )(?<!\btoo )(?<!\bso )(?:way |far |too |so )+(?:expensive|overpriced)|overpriced|(?:isn'?t|not|won'?t) launching|"
    r"none of [\w ]{0,20}(?:are|is) (?:working|loading)|(?:is|it'?s|was|are|went) down\b|ruin(?:ed|s)|"
    r"(?:doesn'?t|does not|won'?t|isn'?t|is not|not) (?:work\w*|load\w*|stable|charging|connect\w*)|"
    r"faulty|defective|scam|ripped off|rip ?off|overcharged|charged (?:me )?twice|"
    r"took money|design flaw|(?:signed|signs|logged|logs|kicked|kicks) me out|forcing us|"
    r"won'?t (?:turn on|charge|start|boot|open)|"
    r"get (?:your|the|it) (?:stuff|shit|act|things?) (?:together|sorted)|sort (?:it|this) out|fix (?:it|this)|"
    r"(?:you )?failed me|fuck\w* me off|(?:just )?cost (?:me )?(?:rs|\$|£|€)?\s?\d+|you have to pay|"
    r"surge pricing)"
)
_TROUBLE = (
    _compile(  # words of trouble: a complaint about a named product, or said negatively in the first person
        r"\b(?:crash\w*|froze|freez\w*|glitch\w*|lagg?\w*|bug(?:gy|s)?|dead|wasted?|lost my|got lost|"
        r"(?<!no )(?<!any )problems?|(?<!no )issues?|delay(?:ed|s)?|cancell?ed|stalled|stranded|removed|"
        r"disappoint\w*|frustrat\w*|unacceptable|ridiculous|terrible|horrible|awful|worst|sucks?|useless|"
        r"pathetic|fed up|smell\w*|stink\w*|filthy|rude|shite|crap|rubbish|garbage|junk|broke|broken|died|"
        r"(?:is|was|running) late)\b"
    )
)
_SARCASM = _compile(
    r"(?:#greatservice|#thanksfornothing|#customerservicefail|thanks? (?:a lot|for nothing)|"
    r"great job (?:losing|breaking|cancell?ing|delaying|charging)|well played\b|"
    r"love (?:how|when|that|it when) [^.!?]{0,40}\b(?:cancel|delay|lost|los[ei]|charg|wait|broke|crash|"
    r"ignor|without (?:telling|notice|warning))|"
    r"who says (?:(?!who says )[^?])*(?:is gone|works)|wasted (?:(?!wasted )[^.!?])*(?:getting|waiting))"
)
_SINGULAR = r"[iI]|[iI]'m|[iI]m|[iI]'ve|[iI]'d|[mM][yY]|[mM][eE]|mine"
_FIRST_PERSON = _compile(rf"\b(?:{_SINGULAR}|[wW][eE]|[oO]ur|us)\b")
_I = _compile(rf"\b(?:{_SINGULAR})\b")  # political talk needs the author's own experience, not "we"
_POLITICS = _compile(
    r"\b(?:trump\w*|obama\w*|clinton\w*|hillary|bernie|sanders|pelosi|gop|dems?|democrat\w*|"
    r"republican\w*|liberals?|libtards?|conservatives?|elect\w*|recount|voter?s?|voting|senat\w*|"
    r"congress\w*|president\w*|potus|medicare|medicaid|obamacare|social security|minimum wage|brexit|"
    r"isis|hamas|hezbollah|putin|soros|bannon|maga|immigra\w*|refugees?|gun control|abortion|"
    r"drone strikes?|fracking|pipeline|#nodapl|#dapl|government|govt|parliament|minister|embargo|"
    r"regime|nazis?|white supremacists?|deplorables?|taxpayers?|taxes|israel\w*|palestin\w*|gaza|"
    r"west bank|syria\w*|aleppo|iran|russia\w*|military|troops|forces|attack\w*|killed|shot dead|"
    r"protest\w*|riots?|war|terror\w*|homeopathy|vaccines?)\b"
)
_TARGET_ENTITIES = frozenset(
    {"BRAND", "PRODUCT", "COMPETITOR", "ORDER_ID", "TRACKING_NUMBER", "FLIGHT_NUMBER"}
)
_SERVICE_TOPICS = frozenset(
    {"delivery", "billing", "refund", "account", "customer_service", "travel_disruption", "outage"}
)
_EXPERIENCE_CUES = frozenset({"unresolved", "dissatisfied"})


def has_target(text: str, found: Analysis) -> bool:
    """A brand, product or service is named: catalogue entity, order/flight/tracking number,
    service topic, or service word in ``text`` (lower-cased)."""
    if any(e["label"] in _TARGET_ENTITIES for e in found.entities):
        return True
    if any(t in _SERVICE_TOPICS for t in found.topics):
        return True
    return bool(_SERVICE_WORDS.search(text))


def is_complaint(text: str, found: Analysis) -> bool:
    """A bad experience with the target; politics and news need it said as negative and first-person.

    ``text`` is lower-cased; the caller has checked that there is a target.
    """
    cued = bool(_EXPERIENCE_CUES.intersection(found.cues))
    sarcastic = bool(_SARCASM.search(text))
    failure = cued or sarcastic or bool(_FAILURE.search(text))
    if not (failure or _TROUBLE.search(text)):
        return False
    if _POLITICS.search(text):
        return found.sentiment_label == "negative" and bool(_I.search(found.text))
    if failure:
        return True
    named = any(e["label"] in _TARGET_ENTITIES for e in found.entities)
    if named and not _PRAISE.search(text) and not _HEADLINE.search(text):
        return True  # trouble with a named brand or product ("persona 5 was delayed AGAIN")
    return found.sentiment_label == "negative" and bool(_FIRST_PERSON.search(found.text))


RULE_FEATURES = (
    "p_negative",
    "p_positive",
    "target",
    "rule_complaint",
    "failure",
    "trouble",
    "sarcasm",
    "cancellation",
    "help",
    "question_start",
    "praise",
    "politics",
    "first_person_singular",
    "unresolved_cue",
    "dissatisfied_cue",
    "spam",
    "addressed",
    "question_mark",
    "headline",
    "purchase",
)


def rule_features(found: Analysis) -> list[float]:
    """The rules' verdicts on one analysed doc, in ``RULE_FEATURES`` order (0 or 1, and two probabilities).

    Needs the sentiment probabilities, so it runs after the sentiment scorer.
    """
    text = found.lower
    target = has_target(text, found)
    return [
        found.probabilities[0],
        found.probabilities[2],
        float(target),
        float(target and is_complaint(text, found)),
        float(bool(_FAILURE.search(text))),
        float(bool(_TROUBLE.search(text))),
        float(bool(_SARCASM.search(text))),
        float(bool(_CANCEL.search(text))),
        float(bool(_HELP.search(text))),
        float(bool(_QUESTION_START.search(text))),
        float(bool(_PRAISE.search(text))),
        float(bool(_POLITICS.search(text))),
        float(bool(_I.search(found.text))),
        float("unresolved" in found.cues),
        float("dissatisfied" in found.cues),
        float(bool(_SPAM.search(text) or _LISTING.search(text))),
        float(text.startswith("@")),
        float("?" in text),
        float(bool(_HEADLINE.search(text))),
        float(bool(_PURCHASE.search(text))),
    ]


_AT = {name: i for i, name in enumerate(RULE_FEATURES)}


def classify(found: Analysis, rules: list[float], complaint: bool) -> str:
    """The intent from the rules' verdicts (``rule_features`` of this doc, read once for the
    complaint model too); ``complaint`` is the complaint model's decision."""

    def hit(name: str) -> bool:
        return rules[_AT[name]] > 0

    if hit("spam"):
        return "spam"
    target = hit("target")
    if target and hit("cancellation"):
        return "cancellation"
    if complaint:
        return "complaint"
    if hit("purchase"):
        return "purchase_intent"
    if _asks(found.lower, hit("help"), target and hit("question_start"), hit("politics") or hit("headline")):
        return "question"
    if target and found.sentiment_label != "negative" and hit("praise"):
        return "praise"
    return "other"


def _asks(text: str, help_wording: bool, question_about_target: bool, rhetoric: bool) -> bool:
    """A request for information or help the author needs, not a rhetorical or chatty question.

    Help-seeking wording ("how do I", "does anyone know", "when will") makes a
    question; a plain wh-question only when it is about a target.
    """
    if not ("?" in text or "any " in text) or rhetoric:
        return False
    return help_wording or question_about_target
