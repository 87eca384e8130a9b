"""Every text an API accepts refuses control characters, and the OpenAPI document says so."""

import re

import pytest
from pydantic import BaseModel, Field, ValidationError

from ..core.schemas import Line, Text, has_control_characters

pytestmark = pytest.mark.country_independent  # reads no country data: runs once per module combination, not per country


class Named(BaseModel):
    name: Line = Field(min_length=1, max_length=20)
    code: Line = Field(pattern=r"^[A-Z]{3}$")
    note: Text = ""


@pytest.mark.parametrize("bad", ["a\x00b", "tab\there", "line\nbreak", "del\x7f", "c1\x85", "lone\ud800"])
def test_a_line_refuses_control_characters_and_lone_surrogates(bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Named(name=bad, code="ABC")
    assert refused.value.errors()[0]["loc"] == ("name",)


def test_free_text_keeps_tabs_and_line_breaks_but_not_nul() -> None:
    assert Named(name="Amina", code="KES", note="first\tsecond\r\nthird").note == "first\tsecond\r\nthird"
    with pytest.raises(ValidationError, match="control characters are not allowed"):
        Named(name="Amina", code="KES", note="a\x00b")


def test_the_schema_states_the_rule_as_a_pattern_clients_can_apply() -> None:
    properties = Named.model_json_schema()["properties"]
    pattern = re.compile(properties["name"]["pattern"])
    assert pattern.match("Ngũgĩ wa Thiong'o · 村上 · عبد الله")
    assert not pattern.match("a\x00b")
    assert properties["code"]["pattern"] == r"^[A-Z]{3}$", "a field's own, stricter pattern is kept"
    assert re.compile(properties["note"]["pattern"]).match("two\nlines")


def test_non_api_input_is_checked_by_the_same_rule() -> None:
    assert has_control_characters("a\x00b")
    assert has_control_characters("two\nlines")
    assert not has_control_characters("two\nlines", multi_line=True)
    assert not has_control_characters("Ngũgĩ")
