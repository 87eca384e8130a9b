from pathlib import Path

import pytest
import yaml

from ..conftest import PROJECT_ROOT
from ..core.country import CountryProfileError, load_country


def write_profile(tmp_path: Path, **changes: object) -> Path:
    profile = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
    profile.update(changes)
    path = tmp_path / "country.yml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def test_generated_profile_is_valid() -> None:
    loaded = load_country(PROJECT_ROOT / "country.yml")
    assert loaded.profile.minor_units in (0, 2, 3)


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
