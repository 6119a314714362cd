"""JSON columns are written by orjson, with the standard library for what orjson refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from engine.db import json_dumps, json_loads


def test_it_reads_back_what_it_writes():
    value = {"a": [1, 2.5, None, True], "text": "caf\u00e9 \U0001f621", "nested": {"k": "v"}}
    assert json_loads(json_dumps(value)) == value
    assert json.loads(json_dumps(value)) == value  # plain JSON, which any reader takes


def test_what_orjson_refuses_goes_to_json():
    huge = {"n": 2**70}  # past 64 bits
    assert json_loads(json_dumps(huge)) == huge
    assert json_loads(json_dumps({1: "x"})) == {"1": "x"}  # keys become strings, as with json


def test_objects_json_does_not_know_are_still_refused():
    with pytest.raises(TypeError):
        json_dumps({"at": datetime.now(UTC)})


def test_nan_is_written_as_null_and_old_nan_text_still_reads():
    assert json_loads(json_dumps({"x": float("nan")})) == {"x": None}
    assert json_loads('{"x": NaN}')["x"] != json_loads('{"x": NaN}')["x"]  # a NaN, as json reads it
