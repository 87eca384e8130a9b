from pathlib import Path

import pytest
import yaml

from ..conftest import PROJECT_ROOT
from ..core.country import CountryProfileError, load_country

pytestmark = pytest.mark.selection  # depends on which modules are installed


def write_profile(tmp_path: Path, **changes: object) -> Path:
    profile = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
    profile.update(changes)
    path = tmp_path / "country.yml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def test_generated_profile_is_valid_and_the_country_answered() -> None:
    loaded = load_country(PROJECT_ROOT / "country.yml")
    answers = yaml.safe_load((PROJECT_ROOT / ".copier-answers.yml").read_text(encoding="utf-8"))
    custom = answers["country"] == "custom"
    assert loaded.profile.country == (answers["custom_country_code"] if custom else answers["country"])
    if custom:
        assert loaded.profile.currency == answers["custom_currency"]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("country", "XX", "country: 'XX' is not an ISO 3166-1 alpha-2 code"),
        ("currency", "XYZ", "currency: 'XYZ' is not an ISO 4217 currency code"),
        ("languages", ["zz"], "languages: 'zz' is not an ISO 639-1 language code"),
        ("timezone", "Mars/Olympus", "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ("locale", "xx_YY", "locale: 'xx_YY' is not a CLDR locale"),
        ("phone_region", "QQ", "phone_region: 'QQ' is not a phone numbering region"),
        ("colour", "blue", "unknown key 'colour'"),
    ],
)
def test_each_mistake_is_reported_with_file_and_key(tmp_path: Path, key: str, value: object, message: str) -> None:
    path = write_profile(tmp_path, **{key: value})
    with pytest.raises(CountryProfileError) as error:
        load_country(path)
    assert str(path) in str(error.value)
    assert message in str(error.value)


def test_missing_key_and_several_mistakes_are_all_reported(tmp_path: Path) -> None:
    profile = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
    del profile["name"]
    profile["currency"] = "XYZ"
    path = tmp_path / "country.yml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    with pytest.raises(CountryProfileError) as error:
        load_country(path)
    assert "name: is required but missing" in error.value.problems
    assert any(problem.startswith("currency: 'XYZ'") for problem in error.value.problems)


def test_unreadable_and_malformed_profiles_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CountryProfileError, match="cannot read"):
        load_country(tmp_path / "absent.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("country: [unclosed", encoding="utf-8")
    with pytest.raises(CountryProfileError, match="not valid YAML"):
        load_country(broken)


# A deliberate mistake in each field of a profile: (key path, bad value, what the report says).
# Paths into a module's section apply only when that module is installed.
FIELD_MISTAKES = [
    ("country", "XX", "country: 'XX' is not an ISO 3166-1 alpha-2 code"),
    ("name", "", "name: String should have at least 1 character"),
    ("currency", "XYZ", "currency: 'XYZ' is not an ISO 4217 currency code"),
    ("currency_minor_units", 7, "currency_minor_units: 7 is wrong: ISO 4217 gives"),
    ("languages", [], "languages: List should have at least 1 item"),
    ("locale", "xx_YY", "locale: 'xx_YY' is not a CLDR locale"),
    ("locale", "fr_FR", "locale: 'fr_FR' is in 'fr', not one of languages"),
    ("timezone", "Mars/Olympus", "timezone: 'Mars/Olympus' is not an IANA time zone"),
    ("phone_region", "QQ", "phone_region: 'QQ' is not a phone numbering region"),
    ("address_levels", ["region", "region"], "address_levels: ['region', 'region'] names a level twice"),
    ("calendar", "julian", "calendar: 'julian' is not a supported calendar; allowed: gregorian, ethiopian"),
    ("identity.id_name", "", "identity.id_name: String should have at least 1 character"),
    ("identity.id_length", 3, "identity.id_length: Input should be greater than or equal to 8"),
    ("tax.fiscal_calendar", "lunar", "tax.fiscal_calendar: Input should be 'gregorian' or 'ethiopian'"),
    ("tax.fiscal_year_start", "14-01", "tax.fiscal_year_start: '14-01' is not a month-day"),
    ("tax.fiscal_year_named_by", "middle", "tax.fiscal_year_named_by: Input should be 'start' or 'end'"),
    ("tax.tin_length", 3, "tax.tin_length: Input should be greater than or equal to 6"),
    (
        "tax.income_tax.scale.0.brackets.1.rate",
        "1.5",
        "tax.income_tax.scale[0].brackets[1].rate: 1.5 is outside",
    ),
    ("tax.income_tax.scale.0.brackets.1.from", "0", "tax.income_tax.scale[0].brackets[1].from: 0 is not above"),
    ("tax.income_tax.scale.0.since", "someday", "tax.income_tax.scale[0].since: Input should be a valid date"),
    (
        "tax.income_tax.rounding.base.mode",
        "sideways",
        "tax.income_tax.rounding.base.mode: 'sideways' is not",
    ),
    ("tax.vat.rate.0.rate", "2", "tax.vat.rate[0].rate: 2 is outside [0, 1]"),
    ("tax.vat.period", "week", "tax.vat.period: Input should be 'month', 'quarter' or 'year'"),
    ("tax.filing_deadline", "02-30", "tax.filing_deadline"),
]


def _set(data: dict, path: str, value: object) -> bool:
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    node = data
    for part in parents:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(last, str) and not isinstance(node, dict):
        return False
    node[last] = value
    return True


@pytest.mark.parametrize(("path", "value", "message"), FIELD_MISTAKES, ids=[f"{m[0]}={m[1]}" for m in FIELD_MISTAKES])
def test_a_mistake_in_each_field_is_refused_at_start_up_naming_it(
    tmp_path: Path, path: str, value: object, message: str
) -> None:
    from ..core.registry import installed_modules

    schemas = {module.name: module.country_schema for module in installed_modules() if module.country_schema}
    profile = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
    section = path.split(".")[0]
    if "." in path and (section not in schemas or not _set(profile, path, value)):
        pytest.skip(f"{section} is not installed here, or this profile has no {path}")
    if "." not in path:
        profile[path] = value
    if path == "locale" and value == "fr_FR" and "fr" in profile["languages"]:
        pytest.skip("French is a language of this profile")
    file = tmp_path / "country.yml"
    file.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CountryProfileError) as error:
        load_country(file, schemas)
    assert str(file) in str(error.value)
    assert any(problem.startswith(message) for problem in error.value.problems), error.value.problems
