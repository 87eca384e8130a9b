"""One source of the country-profile rules: the Pydantic models, read at generation through their JSON Schemas.

jinja/profile.jinja checks a profile against jinja/profile.schema.json and each module's
copier/profile.schema.json, written from the models by scripts/profile-schemas; the models check
it again at start-up. These tests keep the stored schemas those of the models, and show the two
checks refuse the same mistakes at the same key.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .catalogue import REPO
from .scripts import load_script
from .test_countries import DELETE, _set, template_copy

KENYA = yaml.safe_load((REPO / "countries" / "KE.yml").read_text(encoding="utf-8"))

# (key path in countries/KE.yml, a wrong value, the key both checks must name)
BAD_PROFILES = [
    ("country", "KX", "country"),
    ("name", DELETE, "name"),
    ("currency", "KSH", "currency"),
    ("currency_minor_units", 9, "currency_minor_units"),
    ("languages", "en", "languages"),
    ("locale", "english", "locale"),
    ("locale", "fr_KE", "locale"),
    ("timezone", "Africa/Nairobbi", "timezone"),
    ("phone_region", "KEN", "phone_region"),
    ("address_levels", [], "address_levels"),
    ("calendar", "julian", "calendar"),
    ("colour", "blue", "colour"),
    ("identity.id_name", "", "identity.id_name"),
    ("identity.id_length", 21, "identity.id_length"),
    ("tax.fiscal_year_start", "7/1", "tax.fiscal_year_start"),
    ("tax.fiscal_calendar", "lunar", "tax.fiscal_calendar"),
    ("tax.fiscal_year_named_by", "middle", "tax.fiscal_year_named_by"),
    ("tax.tin_length", 5, "tax.tin_length"),
    ("tax.filing_deadline", {"months_after_year_end": 6, "month_day": "06-30"}, "tax.filing_deadline"),
    ("tax.income_tax.scale.0.since", "2021", "tax.income_tax.scale[0].since"),
    ("tax.income_tax.scale.0.brackets.0.from", "100", "tax.income_tax.scale[0].brackets[0].from"),
    ("tax.income_tax.scale.1.brackets.2.from", "200000", "tax.income_tax.scale[1].brackets[2].from"),
    ("tax.income_tax.scale.1.brackets.1.rate", "1.5", "tax.income_tax.scale[1].brackets[1].rate"),
    ("tax.income_tax.scale.1.brackets.1.rate", 0.25, "tax.income_tax.scale[1].brackets[1].rate"),
    ("tax.income_tax.scale.1.brackets", [], "tax.income_tax.scale[1].brackets"),
    ("tax.income_tax.relief.0.amount", "-5", "tax.income_tax.relief[0].amount"),
    ("tax.income_tax.allowance.0.since", "yesterday", "tax.income_tax.allowance[0].since"),
    ("tax.income_tax.rounding.base.mode", "sideways", "tax.income_tax.rounding.base.mode"),
    ("tax.income_tax.rounding.tax.quantum", "0", "tax.income_tax.rounding.tax.quantum"),
    ("tax.income_tax.rounding.tax", DELETE, "tax.income_tax.rounding.tax"),
    ("tax.income_tax", "some", "tax.income_tax"),
    ("tax.vat.rate.0.rate", "16", "tax.vat.rate[0].rate"),
    ("tax.vat.period", "week", "tax.vat.period"),
    ("tax.vat.filing_deadline_days", -1, "tax.vat.filing_deadline_days"),
    ("tax.vat.reduced", {"food": [{"since": "2020-01-01", "rate": "2"}]}, "tax.vat.reduced.food[0].rate"),
    ("tax.penalties.late_filing.0.rate", "5", "tax.penalties.late_filing[0].rate"),
    ("tax.penalties.late_filing.0.combine", "product", "tax.penalties.late_filing[0].combine"),
    ("tax.penalties.interest.0.monthly_rate", 0.01, "tax.penalties.interest[0].monthly_rate"),
    ("tax.penalties.interest.0.weekly_rate", "0.004", "tax.penalties.interest[0]"),
    ("tax.penalties.colour", [], "tax.penalties.colour"),
    ("tax.objections.window_days.0.days", 0, "tax.objections.window_days[0].days"),
]

# Run in the all-modules stack: every profile of argv[2] (a JSON list) through load_country with
# every installed module's section model; print the problems of each.
START_UP_CHECK = """
import json, sys, tempfile
from importlib import import_module
from pathlib import Path

package = sys.argv[1]
country = import_module(f"{package}.core.country")
sections = {}
for folder in sorted(Path("src", package, "modules").glob("*/module.yml")):
    schema = import_module(f"{package}.modules.{folder.parent.name}").module.country_schema
    if schema is not None:
        sections[folder.parent.name] = schema
found = []
with tempfile.TemporaryDirectory() as scratch:
    for profile in json.loads(Path(sys.argv[2]).read_text()):
        path = Path(scratch, "country.yml")
        path.write_text(json.dumps(profile))
        try:
            country.load_country(path, sections)
            found.append([])
        except country.CountryProfileError as error:
            found.append(error.problems)
print(json.dumps(found))
"""


def bad_profile(path: str, value: Any) -> dict[str, Any]:
    profile = copy.deepcopy(KENYA)
    _set(profile, path, value)
    return profile


@pytest.fixture(scope="module")
def start_up_problems(full_stack: Path, python: Path, tmp_path_factory: pytest.TempPathFactory) -> list[list[str]]:
    profiles = tmp_path_factory.mktemp("profiles") / "profiles.json"
    profiles.write_text(json.dumps([bad_profile(path, value) for path, value, _ in BAD_PROFILES]), encoding="utf-8")
    (package,) = [path.name for path in (full_stack / "src").iterdir() if path.is_dir()]
    checked = subprocess.run(
        [str(python), "-c", START_UP_CHECK, package, str(profiles)],
        cwd=full_stack,
        env={"PYTHONPATH": "src"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    return json.loads(checked.stdout)


@pytest.mark.parametrize(
    ("index", "path", "value", "key"),
    [(index, *case) for index, case in enumerate(BAD_PROFILES)],
    ids=[f"{path}={'(deleted)' if value is DELETE else value}" for path, value, _ in BAD_PROFILES],
)
def test_generation_and_start_up_refuse_the_same_mistake_at_the_same_key(
    start_up_problems: list[list[str]], index: int, path: str, value: Any, key: str
) -> None:
    text = yaml.safe_dump(bad_profile(path, value), allow_unicode=True)
    at_generation = load_script("new-country").problems("KE", text)
    assert any(line.startswith(f"countries/KE.yml: {key}: ") for line in at_generation), at_generation
    assert any(problem.startswith(f"{key}: ") for problem in start_up_problems[index]), start_up_problems[index]


@pytest.mark.parametrize("modules", [None, REPO / "tests" / "fixtures" / "fifth_module"], ids=["template", "fixture"])
def test_the_stored_schemas_are_those_of_the_models(python: Path, modules: Path | None) -> None:
    command = [str(python), str(REPO / "scripts" / "profile-schemas"), "--check"]
    checked = subprocess.run(
        [*command, *(["--modules", str(modules)] if modules else [])],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr + "\nrun scripts/profile-schemas with a stack's python"


def test_a_schema_the_models_no_longer_give_is_reported_stale(python: Path, tmp_path: Path) -> None:
    template = template_copy(tmp_path / "template")
    (template / "modules" / "tax" / "copier" / "profile.schema.json").write_text("{}\n", encoding="utf-8")
    checked = subprocess.run(
        [str(python), str(template / "scripts" / "profile-schemas"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert checked.returncode == 1
    assert "stale: modules/tax/copier/profile.schema.json; run scripts/profile-schemas" in checked.stderr
