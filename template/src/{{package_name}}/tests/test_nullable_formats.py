"""An optional formatted string is stated as `type: [string, null]`, which generators read exactly."""

from typing import Annotated, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from ..core.schemas import nullable_formats_as_type_lists


class Contact(BaseModel):
    phone: Annotated[str, Field(max_length=30, json_schema_extra={"format": "phone-number"})] | None = None
    note: Annotated[str, Field(max_length=10)] | None = None


def test_an_optional_formatted_string_becomes_a_type_list_and_keeps_its_keywords() -> None:
    schema = Contact.model_json_schema()
    nullable_formats_as_type_lists(schema)
    phone = schema["properties"]["phone"]
    assert "anyOf" not in phone
    assert phone["type"] == ["string", "null"]
    assert phone["format"] == "phone-number" and phone["maxLength"] == 30
    assert phone["default"] is None and phone["title"] == "Phone"
    assert "anyOf" in schema["properties"]["note"], "a string without a format is left as it is"


def formatted_strings_under_any_of(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        branches = node.get("anyOf", [])
        if {"type": "null"} in branches and any(
            isinstance(branch, dict) and branch.get("type") == "string" and "format" in branch for branch in branches
        ):
            found.append(node)
        for value in node.values():
            found += formatted_strings_under_any_of(value)
    elif isinstance(node, list):
        for value in node:
            found += formatted_strings_under_any_of(value)
    return found


@pytest.mark.selection
def test_the_deployments_document_has_no_optional_formatted_string_under_any_of(client: TestClient) -> None:
    assert formatted_strings_under_any_of(client.app.openapi()) == []
