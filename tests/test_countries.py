"""Country profiles: every file in countries/ generates a stack whose suite passes, mistakes are
refused at generation naming the field, and scripts/new-country writes a profile that works.

The profiles are enumerated from the folder: adding countries/<CODE>.yml adds it here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import iso4217
import pytest
import yaml

from .catalogue import REPO, catalogue
from .scripts import load_script
from .test_combinations import SCREENSHOTS, run_stack_suite

# The default country runs every test in test_combinations; other profiles skip the machinery
# no profile changes (crash loops, worker processes, benches, the OpenAPI fuzz), which would
# only repeat it, and the real-browser tests, but for the profiles named below.
PER_COUNTRY = ("-m", "not country_independent and not browser")
# Jordan's pages are Arabic, right to left: its run takes the browser tests that read the country
# (the main pages in its languages, checked and saved as screenshots).
BROWSER_COUNTRIES = {"JO"}


def shipped_profile_run(code: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """The pytest arguments and environment of a shipped profile's all-modules suite."""
    if code in BROWSER_COUNTRIES:
        return ("-m", "not country_independent"), {"NATION_STACK_SCREENSHOTS": str(SCREENSHOTS)}
    return PER_COUNTRY, {}


def shipped_digit_counts() -> set[int]:
    """The currency minor-unit digit counts the shipped profiles have."""
    currencies = (yaml.safe_load(path.read_text(encoding="utf-8"))["currency"] for path in PROFILES)
    return {iso4217.Currency(code).exponent for code in currencies}


def custom_country_scope(digits: int) -> tuple[str, ...]:
    """Which tests a custom or new profile runs (docs/testing.md).

    A digit count a shipped profile has runs that profile's suite here; a custom profile with it
    is checked with what depends on the deployment's make-up, less the machinery no profile
    changes (the OpenAPI fuzz runs with the default country). A digit count no shipped profile
    has runs every test that reads country data.
    """
    return ("-m", "selection and not country_independent") if digits in shipped_digit_counts() else PER_COUNTRY


PROFILES = sorted((REPO / "countries").glob("*.yml"))
CODES = [path.stem for path in PROFILES]


def copier_default_country() -> str:
    first_document = (REPO / "copier.yml").read_text(encoding="utf-8").split("\n---\n", 1)[0]
    return yaml.safe_load(first_document)["country"]["default"]


def copier_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("COPIER_")}
    return subprocess.run(
        [sys.executable, "-m", "copier", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env=environment,
    )


def generate_from_data_file(template: Path, profile: Path, destination: Path) -> Path:
    """What a user runs: `copier copy --data-file countries/XX.yml` with every module."""
    result = copier_cli(
        "copy",
        "--defaults",
        "--quiet",
        "--vcs-ref",
        "HEAD",
        "--data-file",
        str(profile),
        "-d",
        f"modules={catalogue()}",
        str(template),
        str(destination),
    )
    assert result.returncode == 0, f"copier copy --data-file {profile.name} failed:\n{result.stderr[-4000:]}"
    return destination


def template_copy(destination: Path) -> Path:
    """This template's working tree without git: a profile can be changed without touching the repository."""
    ignore = shutil.ignore_patterns(".git", ".venv", ".cache", "__pycache__", ".pytest_cache", ".ruff_cache")
    shutil.copytree(REPO, destination, ignore=ignore)
    return destination


# ---------------------------------------------------------------- every shipped profile


def test_the_shipped_profiles_include_the_required_countries() -> None:
    assert set(CODES) >= {"KE", "GH", "NG", "RW", "ET", "IN", "JP", "JO"}


@pytest.mark.parametrize("path", PROFILES, ids=CODES)
def test_each_profile_passes_the_generation_checks_and_cites_its_sources(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert load_script("new-country").problems(path.stem, text) == []
    profile = yaml.safe_load(text)
    assert profile["country"] == path.stem, "name the file after the profile's country code"
    assert "{{" not in text and "{%" not in text, "a profile is included verbatim: no Jinja delimiters"
    assert text.count("Source:") >= 1 and profile["tax"]["vat"]["rate"], "income tax and VAT with their sources"
    for key in ("currency_minor_units", "languages", "locale", "timezone", "phone_region", "address_levels"):
        assert key in profile, key
    assert {"id_name", "id_length"} <= set(profile["identity"])
    assert {"fiscal_year_start", "income_tax", "vat"} <= set(profile["tax"])
    # Penalties, interest and the objection window are stated, never left to the module's defaults:
    # an empty list is the explicit "none", with its source in a comment.
    assert {"late_filing", "interest", "rounding"} <= set(profile["tax"]["penalties"]), "state each, [] for none"
    assert profile["tax"]["objections"]["window_days"], "state the objection window with its source"


@pytest.mark.stack_suite("per_country")
@pytest.mark.parametrize("path", PROFILES, ids=CODES)
def test_each_profile_generates_with_every_module_and_its_suite_passes(
    path: Path, python: Path, tmp_path: Path
) -> None:
    stack = generate_from_data_file(REPO, path, tmp_path / "stack")
    assert (stack / "country.yml").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    answers = yaml.safe_load((stack / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["country"] == path.stem
    assert not {"tax", "identity", "currency", "name"} & set(answers), "profile keys must not become answers"
    if path.stem == copier_default_country():
        pytest.skip("the default country's all-modules suite runs in test_combinations")
    arguments, environment = shipped_profile_run(path.stem)
    assert run_stack_suite(python, stack, *arguments, **environment) > 0


CASE_FILES = sorted((REPO / "modules" / "tax" / "cases").glob("*.yml"))
CASE_SECTIONS = ("cases", "penalty_cases", "interest_cases", "objection_cases")


def test_the_tax_cases_apply_the_shipped_profiles() -> None:
    """Each shipped profile has a case file run against that profile itself, not a copy of it.

    `law: shipped` makes the tax module's test_cases run the file against the deployment's own
    country.yml, and only in the deployment of that country; every profile above generates its
    stack and runs its suite, so every case file is checked against countries/<CODE>.yml.
    """
    shipped = {}
    for case_file in CASE_FILES:
        document = yaml.safe_load(case_file.read_text(encoding="utf-8"))
        profile_file = REPO / "countries" / f"{document['country']}.yml"
        assert profile_file.exists(), f"{case_file.name}: no countries/{document['country']}.yml"
        profile = yaml.safe_load(profile_file.read_text(encoding="utf-8"))
        assert document["currency"] == profile["currency"], case_file.name
        if document.get("law") == "shipped":
            assert "tax" not in document, f"{case_file.name}: law: shipped reads the profile; drop the copy"
            shipped[document["country"]] = document
    assert set(shipped) >= set(CODES), "every shipped profile needs a case file with law: shipped"
    for code, document in shipped.items():
        for section in CASE_SECTIONS:
            assert document.get(section), f"cases/{code}.yml: give {section}"


def test_a_case_file_that_disagrees_with_its_profile_fails_in_that_countrys_stack(python: Path, tmp_path: Path) -> None:
    """A wrong figure in the shipped law fails the cases: the income tax, penalty, interest and window.

    Cheap: a stack with the tax module only, and only its test_cases, run twice, in the shared
    environment of the all-modules stack (a tax-only stack's own requirements would build another).
    """
    stack = tmp_path / "stack"
    copier.run_copy(
        str(REPO), str(stack), data={"country": "KE", "modules": ["tax"]}, defaults=True, quiet=True, vcs_ref="HEAD"
    )
    cases = [str(path.relative_to(stack)) for path in stack.glob("src/*/modules/tax/tests/test_cases.py")]

    def run_cases() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *cases],
            cwd=stack,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env={**os.environ, "PYTHONPATH": "src"},
        )

    agreeing = run_cases()
    assert agreeing.returncode == 0, agreeing.stdout[-3000:]
    assert "failed" not in agreeing.stdout
    profile_file = stack / "country.yml"
    profile = yaml.safe_load(profile_file.read_text(encoding="utf-8"))
    tax = profile["tax"]
    tax["income_tax"]["scale"][1]["brackets"][4]["rate"] = "0.36"  # was 0.35
    tax["penalties"]["late_filing"][0]["rate"] = "0.06"  # was 0.05
    tax["penalties"]["interest"][0]["monthly_rate"] = "0.02"  # was 0.01
    tax["objections"]["window_days"][0]["days"] = 31  # was 30
    profile_file.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    disagreeing = run_cases()
    assert disagreeing.returncode == 1, disagreeing.stdout[-3000:]
    failed = {
        line.split("::")[1].split("[")[0] for line in disagreeing.stdout.splitlines() if line.startswith("FAILED")
    }
    assert failed == {"test_case", "test_penalty_case", "test_interest_case", "test_objection_case"}, failed


# ---------------------------------------------------------------- mistakes refused at generation


@pytest.fixture(scope="module")
def editable_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return template_copy(tmp_path_factory.mktemp("template") / "nation-stack")


def _set(data: Any, path: str, value: Any) -> None:
    *parents, last = [int(part) if part.isdigit() else part for part in path.split(".")]
    for part in parents:
        data = data[part]
    if value is DELETE:
        del data[last]
    else:
        data[last] = value


DELETE = object()
# (key path in countries/KE.yml, a wrong value, the start of the line Copier must print)
GENERATION_MISTAKES = [
    ("country", "KX", 'country: "KX" is not an ISO 3166-1 alpha-2 code'),
    ("country", "JP", 'country: "JP" does not match the file name countries/KE.yml'),
    ("name", "", 'name: "" is not the country\'s name'),
    ("name", DELETE, "name: is required but missing"),
    ("currency", "KSH", 'currency: "KSH" is not an ISO 4217 currency code'),
    ("currency_minor_units", 9, 'currency_minor_units: "9" is not allowed'),
    ("languages", "en", 'languages: "en" is not a non-empty list of ISO 639-1 codes'),
    ("languages.1", "swa", 'languages[1]: "swa" is not an ISO 639-1 language code'),
    ("locale", "english", 'locale: "english" is not a locale'),
    ("locale", "fr_KE", 'locale: "fr_KE" is in "fr", not one of languages'),
    ("timezone", "Africa/Nairobbi", 'timezone: "Africa/Nairobbi" is not an IANA time zone'),
    ("phone_region", "KEN", 'phone_region: "KEN" is not a phone numbering region'),
    ("address_levels", [], "address_levels: must be a non-empty list of names"),
    ("calendar", "julian", 'calendar: "julian" is not allowed; allowed: gregorian, ethiopian'),
    ("colour", "blue", "colour: unknown key"),
    ("identity.id_name", "", 'identity.id_name: "" is not the name of the national ID number'),
    ("identity.id_length", 5, 'identity.id_length: "5" is not allowed; give 8 to 20'),
    ("tax.fiscal_year_start", "7/1", 'tax.fiscal_year_start: "7/1" is not a quoted month-day MM-DD'),
    ("tax.fiscal_calendar", "lunar", 'tax.fiscal_calendar: "lunar" is not allowed; allowed: gregorian, ethiopian'),
    ("tax.fiscal_year_named_by", "middle", 'tax.fiscal_year_named_by: "middle" is not allowed'),
    ("tax.tin_length", 50, 'tax.tin_length: "50" is not allowed'),
    ("tax.filing_deadline", {"months_after_year_end": 6, "month_day": "06-30"}, "tax.filing_deadline: give"),
    ("tax.income_tax.scale.0.since", "2021", 'tax.income_tax.scale[0].since: "2021" is not a quoted date'),
    (
        "tax.income_tax.scale.0.brackets.0.from",
        "100",
        'tax.income_tax.scale[0].brackets[0].from: "100" is not zero: the first bracket',
    ),
    (
        "tax.income_tax.scale.1.brackets.2.from",
        "200000",
        'tax.income_tax.scale[1].brackets[2].from: "200000" is not above',
    ),
    (
        "tax.income_tax.scale.1.brackets.1.rate",
        "25",
        'tax.income_tax.scale[1].brackets[1].rate: "25" is not a quoted decimal fraction',
    ),
    (
        "tax.income_tax.scale.1.brackets.1.rate",
        0.25,
        'tax.income_tax.scale[1].brackets[1].rate: "0.25" is not a quoted',
    ),
    ("tax.income_tax.relief.0.amount", "-5", 'tax.income_tax.relief[0].amount: "-5" is not a quoted non-negative'),
    ("tax.income_tax.allowance.0.since", "yesterday", 'tax.income_tax.allowance[0].since: "yesterday" is not'),
    (
        "tax.income_tax.rounding.base.mode",
        "sideways",
        'tax.income_tax.rounding.base.mode: "sideways" is not allowed; allowed: down',
    ),
    ("tax.income_tax.rounding.tax.quantum", "0", 'tax.income_tax.rounding.tax.quantum: "0" is not a quoted amount'),
    ("tax.vat.rate.0.rate", "16", 'tax.vat.rate[0].rate: "16" is not a quoted decimal fraction'),
    ("tax.vat.period", "week", 'tax.vat.period: "week" is not allowed'),
    ("tax.vat.filing_deadline_days", -1, 'tax.vat.filing_deadline_days: "-1" is not allowed'),
    (
        "tax.penalties.late_filing.0.rate",
        "5",
        'tax.penalties.late_filing[0].rate: "5" is not a quoted decimal fraction',
    ),
    ("tax.penalties.interest.0.monthly_rate", 0.01, 'tax.penalties.interest[0].monthly_rate: "0.01" is not a quoted'),
    (
        "tax.penalties.interest.0.weekly_rate",
        "0.004",
        "tax.penalties.interest[0]: give exactly one of monthly_rate, weekly_rate, annual_rate",
    ),
    ("tax.objections.window_days.0.days", 0, 'tax.objections.window_days[0].days: "0" is not allowed'),
]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    GENERATION_MISTAKES,
    ids=[f"{path}={'(deleted)' if value is DELETE else value}" for path, value, _ in GENERATION_MISTAKES],
)
def test_a_mistake_in_each_field_is_refused_at_generation_naming_it(
    editable_template: Path, tmp_path: Path, path: str, value: Any, message: str
) -> None:
    profile_file = editable_template / "countries" / "KE.yml"
    original = profile_file.read_text(encoding="utf-8")
    profile = yaml.safe_load(original)
    _set(profile, path, value)
    try:
        profile_file.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
        with pytest.raises(ValueError, match="country") as error:
            copier.run_copy(
                str(editable_template), str(tmp_path / "stack"), data={"country": "KE"}, defaults=True, quiet=True
            )
    finally:
        profile_file.write_text(original, encoding="utf-8")
    assert f"countries/KE.yml: {message}" in str(error.value)
    assert not (tmp_path / "stack" / "country.yml").exists()


def test_an_unknown_or_malformed_country_answer_is_refused(tmp_path: Path) -> None:
    for answer, message in [
        ("ZZ", "there is no profile countries/ZZ.yml; write one with scripts/new-country, or answer custom"),
        ("kenya", 'country: "kenya" is not allowed; give the two-letter code of a profile in countries/'),
    ]:
        with pytest.raises(ValueError, match="country") as error:
            copier.run_copy(
                str(REPO), str(tmp_path / answer), data={"country": answer}, defaults=True, quiet=True, vcs_ref="HEAD"
            )
        assert message in str(error.value)


# ---------------------------------------------------------------- scripts/new-country


# A new user's answers, one per line (empty: the default in brackets), for Tanzania.
NEW_COUNTRY_ANSWERS = [
    "TZ",  # code
    "Tanzania",  # name
    "TZS",  # currency
    "sw, en",  # languages
    "",  # locale: sw_TZ
    "Africa/Dar_es_Salaam",  # time zone
    "NIN",  # national ID name
    "20",  # national ID digits
    "region, district, ward",  # address levels
    "07-01",  # fiscal year start
    "0:0, 3240000:0.08, 6240000:0.20, 9120000:0.25, 12000000:0.30",  # brackets
    "2024-07-01",  # since
    "",  # allowance
    "",  # relief
    "",  # rounding mode
    "",  # quantum
    "Tanzania Revenue Authority, PAYE rates (tra.go.tz)",  # source
    "0.18",  # VAT
    "",  # VAT since
    "20",  # VAT deadline days
    "Value Added Tax Act 2014 (TRA)",  # VAT source
    "",  # late-filing fixed amount: none
    "",  # late-filing share of the tax: none
    "",  # monthly interest: none
    "30",  # objection window, days
    "",  # from when: the scale's date
    "Tanzania Revenue Authority (tra.go.tz)",  # their source
]


def new_country(out: Path, answers: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "new-country"), "--out", str(out)],
        input="\n".join(answers) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_new_country_asks_again_after_a_wrong_answer_and_stops_cleanly_without_input(tmp_path: Path) -> None:
    retried = new_country(tmp_path, ["TZA", *NEW_COUNTRY_ANSWERS])
    assert retried.returncode == 0, retried.stderr
    assert '"TZA" is not an ISO 3166-1 alpha-2 code' in retried.stdout
    assert (tmp_path / "TZ.yml").exists()
    stopped = new_country(tmp_path / "other", NEW_COUNTRY_ANSWERS[:5])
    assert stopped.returncode == 2
    assert "stopped, no answer to" in stopped.stderr
    assert not (tmp_path / "other" / "TZ.yml").exists()


@pytest.mark.stack_suite("selection")
def test_new_country_writes_a_profile_that_generates_and_passes(python: Path, tmp_path: Path) -> None:
    template = template_copy(tmp_path / "template")
    result = new_country(template / "countries", NEW_COUNTRY_ANSWERS)
    assert result.returncode == 0, result.stdout + result.stderr
    written = template / "countries" / "TZ.yml"
    profile = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert (profile["currency"], profile["currency_minor_units"], profile["locale"]) == ("TZS", 2, "sw_TZ")
    assert "Source: Tanzania Revenue Authority" in written.read_text(encoding="utf-8")
    # As a new user would: answer the country question with the new code (no copier.yml change).
    stack = tmp_path / "stack"
    copier.run_copy(
        str(template), str(stack), data={"country": "TZ", "modules": catalogue()}, defaults=True, quiet=True
    )
    assert yaml.safe_load((stack / "country.yml").read_text(encoding="utf-8"))["country"] == "TZ"
    assert run_stack_suite(python, stack, *custom_country_scope(profile["currency_minor_units"])) > 0


def test_new_country_without_the_law_writes_a_skeleton_that_generation_refuses(tmp_path: Path) -> None:
    law_unknown = ["", "", ""]  # no brackets: a skeleton; then the rounding mode and quantum
    vat = ["0.18", "2024-07-01", "20", "Value Added Tax Act 2014 (TRA)"]
    penalties = ["", "", "", "30", "2024-07-01", "Tax Administration Act 2015 (TRA)"]
    answers = [*NEW_COUNTRY_ANSWERS[:10], *law_unknown, *vat, *penalties]
    template = template_copy(tmp_path / "template")
    result = new_country(template / "countries", answers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the income-tax law is a skeleton" in result.stdout
    assert "tax.income_tax.scale[0].brackets[0].rate: not filled in yet" in result.stdout
    written = (template / "countries" / "TZ.yml").read_text(encoding="utf-8")
    assert "FILL IN" in written and 'rate: "0.18"' in written
    target = tmp_path / "stack"
    target.mkdir()
    with pytest.raises(ValueError, match=r"tax\.income_tax\.scale\[0\]\.since: not filled in yet"):
        copier.run_copy(str(template), str(target), data={"country": "TZ"}, defaults=True, quiet=True)
    assert not any(target.iterdir()), "a refused profile writes nothing"
