"""MOSIP's demographic attributes (its ID schema's names, language-tagged values) to ours and back
(mosip.py): what a relying party claims, and the eKYC identity we share."""

from __future__ import annotations

from datetime import date
from typing import Any

import pycountry

from ...core.country import LoadedCountry
from .domain import Demographics
from .mosip_errors import invalid, not_held

MOSIP_NAMES = {"full_name": "name", "date_of_birth": "dob", "sex": "gender", "phone": "phoneNumber"}
GENDERS = {
    "male": "M",
    "m": "M",
    "mle": "M",
    "female": "F",
    "f": "F",
    "fle": "F",
    "other": "X",
    "others": "X",
    "oth": "X",
    "x": "X",
}
GENDER_NAMES = {"M": "Male", "F": "Female", "X": "Others"}
SUPPORTED = {"name", "dob", "gender", "phoneNumber", "metadata"}


def claimed(value: object) -> Demographics | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("request/demographics")
    given = {key: item for key, item in value.items() if item not in (None, "", [], {})}
    for key in given:
        if key not in SUPPORTED:
            raise not_held(key[:40])
    full_name = _first_value(given, "name")
    gender = _first_value(given, "gender")
    dob = given.get("dob")
    if dob is not None and not isinstance(dob, str):
        raise invalid("request/demographics/dob")
    phone = given.get("phoneNumber")
    if phone is not None and (not isinstance(phone, str) or len(phone) > 40):
        raise invalid("request/demographics/phoneNumber")
    claim = Demographics(
        full_name=full_name,
        date_of_birth=_date(dob) if dob is not None else None,
        sex=GENDERS.get(gender.strip().lower(), "?") if gender is not None else None,
        phone=phone,
    )
    return None if claim == Demographics() else claim


def _first_value(given: dict[str, Any], name: str) -> str | None:
    """The first value of a language-tagged attribute ([{language, value}]); MOSIP sends one per language."""
    if name not in given:
        return None
    entries = given[name]
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("value"), str) and len(e["value"]) <= 400 for e in entries
    ):
        raise invalid(f"request/demographics/{name}")
    return entries[0]["value"]


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError as error:
        raise invalid("request/demographics/dob") from error


def shared(attributes: dict[str, Any], country: LoadedCountry) -> dict[str, Any]:
    """The attributes the partner's policy shares, in MOSIP's names and shapes."""
    language = _language(country)

    def tagged(value: str) -> list[dict[str, str]]:
        return [{"language": language, "value": value}]

    identity: dict[str, Any] = {}
    if "given_name" in attributes:
        identity["firstName"] = tagged(attributes["given_name"])
    if "family_name" in attributes:
        identity["lastName"] = tagged(attributes["family_name"])
    if "given_name" in attributes and "family_name" in attributes:
        identity["name"] = tagged(f"{attributes['given_name']} {attributes['family_name']}")
    if "date_of_birth" in attributes:
        identity["dob"] = str(attributes["date_of_birth"]).replace("-", "/")
    if "sex" in attributes:
        identity["gender"] = tagged(GENDER_NAMES.get(attributes["sex"], attributes["sex"]))
    if attributes.get("phone"):
        identity["phoneNumber"] = attributes["phone"]
    if isinstance(attributes.get("address"), dict):
        identity["fullAddress"] = tagged(", ".join(str(v) for v in attributes["address"].values() if v))
    return identity


def _language(country: LoadedCountry) -> str:
    """The register's language as MOSIP tags values: ISO 639-3 (`eng`, `fra`, `swa`)."""
    code = country.profile.locale.split("_")[0]
    found = pycountry.languages.get(alpha_2=code) if len(code) == 2 else pycountry.languages.get(alpha_3=code)
    return found.alpha_3 if found is not None else "eng"
