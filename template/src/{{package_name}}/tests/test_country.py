from collections.abc import Callable
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


# A deliberate mistake in each core field of a profile: (key, bad value, what the report says).
# Each module tests its own section the same way (modules/<name>/tests/test_profile_section.py).
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
    profile = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
    if path == "locale" and value == "fr_FR" and "fr" in profile["languages"]:
        pytest.skip("French is a language of this profile")
    assert_mistake_is_refused_naming_it(tmp_path, path, value, message)


def mistakes_refused_at_start_up(mistakes: list[tuple[str, object, str]]) -> Callable[..., None]:
    """A test that each (key path, bad value, what the report says) of a module's section is refused."""

    @pytest.mark.parametrize(("path", "value", "message"), mistakes, ids=[f"{m[0]}={m[1]}" for m in mistakes])
    def test(tmp_path: Path, path: str, value: object, message: str) -> None:
        assert_mistake_is_refused_naming_it(tmp_path, path, value, message)

    return test


def assert_mistake_is_refused_naming_it(tmp_path: Path, path: str, value: object, message: str) -> None:
    """The generated profile with `value` at the dotted `path` is refused, one problem starting with `message`.

    A path into a part this profile does not have (a law it does not state) skips the test.
    """
    from ..core.registry import installed_modules

    schemas = {module.name: module.country_schema for module in installed_modules() if module.country_schema}
    profile = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
    section = path.split(".")[0]
    if "." in path:
        profile.setdefault(section, {})
    if not _set(profile, path, value):
        pytest.skip(f"this profile has no {path}")
    file = tmp_path / "country.yml"
    file.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CountryProfileError) as error:
        load_country(file, schemas)
    assert str(file) in str(error.value)
    assert any(problem.startswith(message) for problem in error.value.problems), error.value.problems
