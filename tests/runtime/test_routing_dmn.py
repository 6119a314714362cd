"""The shipped routing table: each rule fires as its description says, FIRST hit policy."""

import pytest

from engine.runtime import DefinitionInvalid, ScriptFailed, compile_decision
from engine.runtime.dmn import entry_expression

from .conftest import process_file


@pytest.fixture(scope="module")
def routing():
    return compile_decision(process_file("routing.dmn"))


def signal(**overrides):
    base = {
        "intent": "other",
        "sentiment": "neutral",
        "urgency": "normal",
        "influence": 0.1,
        "source": "twitter",
        "value_tier": "standard",
        "complaint_score": 0.1,
    }
    return {**base, **overrides}


CASES = [
    (signal(intent="spam", urgency="critical"), "rule_spam", "ignore", "low", "spam"),
    (signal(intent="praise", urgency="critical"), "rule_critical", "open_case", "urgent", "care"),
    (
        signal(intent="complaint", complaint_score=0.6, sentiment="negative", influence=0.7),
        "rule_influential_complaint",
        "open_case",
        "high",
        "care",
    ),
    (signal(complaint_score=0.9, value_tier="gold"), "rule_valued_complaint", "open_case", "high", "care"),
    (
        signal(complaint_score=0.6, value_tier="platinum"),
        "rule_valued_complaint",
        "open_case",
        "high",
        "care",
    ),
    (signal(intent="cancellation"), "rule_cancellation", "open_case", "high", "care"),
    (signal(intent="question", urgency="high"), "rule_high_urgency", "open_case", "high", "care"),
    (
        signal(intent="complaint", complaint_score=0.8, sentiment="negative", influence=0.69),
        "rule_complaint",
        "open_case",
        "normal",
        "care",
    ),
    (signal(intent="purchase_intent"), "rule_purchase", "open_case", "normal", "sales"),
    (signal(intent="question"), "rule_question", "open_case", "normal", "care"),
    (
        signal(intent="complaint", complaint_score=0.59, value_tier="gold"),
        "rule_possible_complaint",
        "open_case",
        "low",
        "care",
    ),
    (signal(intent="praise", urgency="high"), "rule_praise", "log_only", "low", "social"),
    (signal(sentiment="negative", source="app_store"), "rule_negative_review", "open_case", "normal", "care"),
    (signal(sentiment="negative"), "rule_negative_other", "open_case", "low", "care"),
    (signal(sentiment="positive"), "rule_default", "log_only", "low", "social"),
]


@pytest.mark.parametrize(("context", "rule", "action", "priority", "queue"), CASES)
def test_each_rule_fires_as_documented(routing, context, rule, action, priority, queue):
    result = routing.evaluate(context)
    assert result.matched and result.rule_id == rule
    assert result.rule_description
    assert result.outputs == {
        "action": action,
        "priority": priority,
        "queue": queue,
        "sla_policy": "default",
        "process_key": "reactive_case",
    }


def test_every_rule_is_covered(routing):
    assert {rule for _, rule, *_ in CASES} == {r.id for r in routing._table.rules}
    assert routing.key == "routing" and routing.hit_policy == "FIRST"


def test_rule_index_is_the_row_position(routing):
    assert routing.evaluate(signal(intent="spam")).rule_index == 0


def test_missing_context_key_is_a_clear_error(routing):
    with pytest.raises(ScriptFailed) as caught:
        routing.evaluate({"intent": "question"})
    assert "NameError" in caught.value.detail


@pytest.mark.parametrize(
    ("entry", "expression"),
    [
        ("-", None),
        ("", None),
        (">= 0.7", "dmn_input >= 0.7"),
        ('"a", "b"', 'dmn_input in ("a", "b",)'),
        ("0.3 <= ? < 0.7", "0.3 <= dmn_input < 0.7"),
        ('"what?"', 'dmn_input in ("what?",)'),
        ('not in ("x",)', 'dmn_input not in ("x",)'),
    ],
)
def test_input_entry_semantics(entry, expression):
    assert entry_expression(entry) == expression


COLLECT = b"""<?xml version="1.0"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="x">
  <decision id="tags" name="Tags">
    <decisionTable id="t" hitPolicy="COLLECT">
      <input id="i"><inputExpression id="ie"><text>score</text></inputExpression></input>
      <output id="o" name="tag"/>
      <rule id="r1">
        <inputEntry id="a"><text>&gt; 1</text></inputEntry>
        <outputEntry id="b"><text>"big"</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="c"><text>-</text></inputEntry>
        <outputEntry id="e"><text>"any"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>"""


def test_collect_returns_every_match():
    result = compile_decision(COLLECT).evaluate({"score": 5})
    assert result.matches == [{"tag": "big"}, {"tag": "any"}]
    assert compile_decision(COLLECT).evaluate({"score": 0}).matches == [{"tag": "any"}]


def test_dmn_expressions_are_sandboxed_at_compile_time():
    with pytest.raises(DefinitionInvalid) as caught:
        compile_decision(COLLECT.replace(b"<text>score</text>", b"<text>score.__class__</text>"))
    assert caught.value.problems[0].element_id == "i"
