"""An enrolment application as the services take it: a domain value, whoever the caller is (the API,
the seed, a CLI command or a web page), never an HTTP request body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class NameInScript:
    given_name: str
    family_name: str


@dataclass(frozen=True)
class Application:
    application_id: str
    given_name: str
    family_name: str
    date_of_birth: date
    sex: str
    phone: str | None = None
    address: Mapping[str, str] = field(default_factory=dict)
    other_names: Mapping[str, NameInScript] = field(default_factory=dict)  # by ISO 15924 script code
    biometric_ref: str | None = None

    def demographics(self) -> dict[str, Any]:
        """The application as stored with its enrolment (JSON), and as its request hash reads it."""
        return {
            "application_id": self.application_id,
            "given_name": self.given_name,
            "family_name": self.family_name,
            "date_of_birth": self.date_of_birth.isoformat(),
            "sex": self.sex,
            "phone": self.phone,
            "address": dict(self.address),
            "other_names": {
                script: {"given_name": name.given_name, "family_name": name.family_name}
                for script, name in self.other_names.items()
            },
            "biometric_ref": self.biometric_ref,
        }

    @classmethod
    def from_demographics(cls, stored: Mapping[str, Any]) -> Application:
        """The application an enrolment stored (`demographics()`), to issue it after adjudication."""
        other_names = stored.get("other_names") or {}
        return cls(
            **{
                **stored,
                "date_of_birth": date.fromisoformat(stored["date_of_birth"]),
                "other_names": {script: NameInScript(**name) for script, name in other_names.items()},
            }
        )
