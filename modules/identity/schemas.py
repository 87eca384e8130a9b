"""Request and response bodies of the identity API."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EnrolmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    application_id: str = Field(
        min_length=8,
        max_length=36,
        pattern=r"^[A-Za-z0-9-]+$",
        description="Chosen by the enrolment client; repeating it returns the original outcome",
    )
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    date_of_birth: date
    sex: Literal["F", "M", "X"]
    phone: str | None = Field(default=None, max_length=30)
    address: dict[str, str] = Field(default_factory=dict)

    @field_validator("date_of_birth")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError("date_of_birth is in the future")
        return value


class EnrolmentOut(BaseModel):
    application_id: str
    status: str
    national_id: str | None
    candidates: list[str]


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    national_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    phone: str | None
    address: dict[str, str]
    status: str
