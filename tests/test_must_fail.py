"""Answers that must be refused at generation, with a message naming the question; nothing is written."""

from __future__ import annotations

import keyword
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import jinja2
import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment

from .catalogue import REPO, catalogue
from .conftest import generate_stack

CUSTOM = {"country": "custom"}
# Validators raise ValueError; a raw answer of the wrong type is refused before Copier converts
# it, from Jinja (jinja/validate.jinja, refuse_mistyped_answers), which raises a TemplateRuntimeError.
REFUSED = (ValueError, jinja2.TemplateRuntimeError)
KEPT_FILE = "kept.txt"
KEPT_BYTES = b"written by the user before generating\n"

MUST_FAIL: list[tuple[str, dict[str, Any], str]] = [
    ("no module", {"modules": []}, "modules: choose at least one module"),
    ("unknown module", {"modules": ["identity", "weather"]}, "modules"),
    ("package name with a dash", {"package_name": "my-stack"}, 'package_name: "my-stack" is not a Python identifier'),
    ("package name starting with a digit", {"package_name": "9lives"}, 'package_name: "9lives"'),
    ("package name that is a keyword", {"package_name": "class"}, 'package_name: "class" is a Python keyword'),
    ("package name that is a keyword (if)", {"package_name": "if"}, 'package_name: "if" is a Python keyword'),
    (
        "package name that is a soft keyword (match)",
        {"package_name": "match"},
        'package_name: "match" is a Python soft keyword',
    ),
    ("package name that is a soft keyword (_)", {"package_name": "_"}, 'package_name: "_" is a Python soft keyword'),
    (
        "package name that is a 3.12 soft keyword (type)",
        {"package_name": "type"},
        'package_name: "type" is a Python soft keyword',
    ),
    ("package name of a stdlib module", {"package_name": "json"}, 'package_name: "json" is a Python standard-library'),
    (
        "package name of a 3.11-only stdlib module",
        {"package_name": "imp"},
        'package_name: "imp" is a Python standard-library',
    ),
    (
        "package name of a dependency",
        {"package_name": "fastapi"},
        'package_name: "fastapi" is a dependency of the stack',
    ),
    (
        "package name of a dependency's import",
        {"package_name": "yaml"},
        'package_name: "yaml" is a dependency of the stack',
    ),
    ("package name for tests", {"package_name": "tests"}, 'package_name: "tests" is reserved'),
    ("package name over 63 characters", {"package_name": "p" * 64}, 'package_name: "ppp'),
    ("package name far too long for a file name", {"package_name": "p" * 300}, "is 300 characters long; at most 63"),
    ("deployment name far too long", {"deployment_name": "x" * 500}, 'deployment_name: "xxx'),
    ("deployment name over 120 characters", {"deployment_name": "N" * 121}, "is 121 characters long; at most 120"),
    (
        "deployment name with a quote",
        {"deployment_name": 'The "Free" State'},
        'deployment_name: "The "Free" State" contains',
    ),
    ("deployment name with a backslash", {"deployment_name": "A\\B"}, 'deployment_name: "A\\B" contains'),
    ("deployment name on two lines", {"deployment_name": "A\nB"}, "deployment_name: must be one line"),
    ("empty deployment name", {"deployment_name": " "}, "deployment_name: must not be empty"),
    (
        "non-ASCII deployment name with a keyword package name",
        {"deployment_name": "日本", "package_name": "def"},
        'package_name: "def" is a Python keyword',
    ),
    ("deployment name deriving a stdlib package name", {"deployment_name": "Json"}, 'package_name: "json"'),
    ("unshipped country profile", {"country": "ZZ"}, "country"),
    (
        "malformed country code",
        {**CUSTOM, "custom_country_code": "Kenya"},
        'custom_country_code: "Kenya" is not an ISO 3166-1',
    ),
    ("lowercase country code", {**CUSTOM, "custom_country_code": "gh"}, 'custom_country_code: "gh"'),
    ("unknown currency", {**CUSTOM, "custom_currency": "GHX"}, 'custom_currency: "GHX" is not an ISO 4217'),
    ("currency without minor unit", {**CUSTOM, "custom_currency": "XAU"}, 'custom_currency: "XAU"'),
    ("unknown language", {**CUSTOM, "custom_languages": ["english"]}, 'custom_languages: "english"'),
    ("no language", {**CUSTOM, "custom_languages": []}, "custom_languages: must be a non-empty list"),
    ("languages not a list", {**CUSTOM, "custom_languages": "en"}, "custom_languages: must be a non-empty list"),
    ("unknown time zone", {**CUSTOM, "custom_timezone": "Africa/Atlantis"}, 'custom_timezone: "Africa/Atlantis"'),
    ("unknown database", {"database": "oracle"}, "database"),
    ("empty licensee", {"licensee_name": "  "}, "licensee_name: must not be empty"),
    ("licensee on two lines", {"licensee_name": "Ministry\nof ICT"}, "licensee_name: must be one line"),
    ("malformed licence reference", {"licence_reference": "bad ref!"}, "licence_reference must be"),
    ("licence grant not a mapping", {"licence_grant": "grant.yml"}, "licence_grant: give the grant file itself"),
    ("dedup threshold out of range", {"identity_dedup_threshold": 10}, "identity_dedup_threshold: 10 is out of range"),
    ("lowercase funding account", {"payments_funding_account": "treasury"}, 'payments_funding_account: "treasury"'),
    ("tax brackets not a list", {**CUSTOM, "custom_income_tax_brackets": {"from": "0"}}, "custom_income_tax_brackets"),
    (
        "tax thresholds going down",
        {**CUSTOM, "custom_income_tax_brackets": [{"from": "0", "rate": "0.1"}, {"from": "0", "rate": "0.2"}]},
        "custom_income_tax_brackets",
    ),
    (
        "tax rate above 100 %",
        {**CUSTOM, "custom_income_tax_brackets": [{"from": "0", "rate": "1.5"}]},
        "custom_income_tax_brackets",
    ),
    # Wrong types, as the Python API and --data-file deliver them (the command line's -d gives text: below).
    (
        "int answered with letters",
        {"identity_dedup_threshold": "abc"},
        'identity_dedup_threshold: "abc" is not a whole',
    ),
    (
        "int answered with a fraction",
        {"identity_dedup_threshold": 90.5},
        "identity_dedup_threshold: 90.5 is not a whole",
    ),
    ("int answered with a list", {"identity_dedup_threshold": [90]}, "identity_dedup_threshold: [90] is not a whole"),
    ("int answered with true", {"identity_dedup_threshold": True}, "identity_dedup_threshold: true is not a whole"),
    ("multiselect answered with one name", {"modules": "identity"}, 'modules: "identity" is not a list'),
    ("multiselect answered with a number", {"modules": 5}, "modules: 5 is not a list"),
    ("multiselect answered with a mapping", {"modules": {"identity": True}}, "is not a list"),
    ("text answered with a list", {"deployment_name": ["Kenya"]}, 'deployment_name: ["Kenya"] is not text'),
    ("text answered with a mapping", {"licensee_name": {"name": "ICT"}}, "licensee_name: {"),
    ("text answered with null", {"package_name": None}, "package_name: null is not text"),
    ("text answered with false (YAML's NO)", {"country": False}, "country: false is not text"),
    ("yaml answered with a number", {**CUSTOM, "custom_languages": 5}, "custom_languages: must be a non-empty list"),
]


@pytest.fixture(scope="session")
def template_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This working tree's files without .git: Copier reads such a folder in place instead of
    cloning it, which makes a refusal (before anything renders) about seven times cheaper."""
    listing = ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"]
    names = subprocess.run(listing, cwd=REPO, capture_output=True, text=True, check=True).stdout.split("\0")
    root = tmp_path_factory.mktemp("template")
    for name in names:
        if name and (REPO / name).is_file():  # a deleted but still tracked file is listed too
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


def target_with_a_file(parent: Path) -> Path:
    """An existing, non-empty target folder: generation must leave it exactly as it was."""
    target = parent / "stack"
    target.mkdir()
    (target / KEPT_FILE).write_bytes(KEPT_BYTES)
    return target


def assert_untouched(target: Path) -> None:
    assert [path.name for path in target.iterdir()] == [KEPT_FILE], "files were written despite the refusal"
    assert (target / KEPT_FILE).read_bytes() == KEPT_BYTES


@pytest.mark.parametrize(("answers", "message"), [case[1:] for case in MUST_FAIL], ids=[case[0] for case in MUST_FAIL])
def test_wrong_answer_is_refused_naming_the_field(
    answers: dict[str, Any], message: str, template_files: Path, tmp_path: Path
) -> None:
    target = target_with_a_file(tmp_path)
    with pytest.raises(REFUSED) as refusal:
        copier.run_copy(
            str(template_files), str(target), data={"modules": catalogue(), **answers}, defaults=True, quiet=True
        )
    assert message in str(refusal.value)
    assert_untouched(target)


@pytest.mark.parametrize(
    "answers",
    [{"deployment_name": "x" * 500}, {"package_name": "p" * 300}, {"identity_dedup_threshold": "abc"}],
    ids=["long deployment name", "long package name", "mistyped int"],
)
def test_an_empty_target_stays_empty(answers: dict[str, Any], template_files: Path, tmp_path: Path) -> None:
    target = tmp_path / "stack"
    target.mkdir()
    with pytest.raises(REFUSED):
        copier.run_copy(str(template_files), str(target), data=answers, defaults=True, quiet=True)
    assert not any(target.iterdir())


# ---------------------------------------------------------------- as users type it: copier copy -d


CLI_MUST_FAIL: list[tuple[str, str, str]] = [
    ("int answered with letters", "identity_dedup_threshold=abc", 'identity_dedup_threshold: "abc" is not a whole'),
    (
        "int answered with a fraction",
        "identity_dedup_threshold=90.5",
        'identity_dedup_threshold: "90.5" is not a whole',
    ),
    ("int left empty", "identity_dedup_threshold=", 'identity_dedup_threshold: "" is not a whole'),
    ("multiselect answered with one name", "modules=identity", 'modules: "identity" is not a list'),
    ("multiselect answered with commas", "modules=identity,tax", 'modules: "identity,tax" is not a list'),
    ("multiselect list left open", "modules=[identity, tax", 'modules: "[identity, tax" is not a list'),
    ("yaml list left open", "custom_languages=[en, sw", 'custom_languages: "[en, sw" is not valid YAML'),
    ("keyword package name", "package_name=if", 'package_name: "if" is a Python keyword'),
    ("long deployment name", "deployment_name=" + "x" * 500, "is 500 characters long; at most 120"),
]


@pytest.mark.parametrize(
    ("data", "message"), [case[1:] for case in CLI_MUST_FAIL], ids=[case[0] for case in CLI_MUST_FAIL]
)
def test_wrong_answer_on_the_command_line_is_refused_naming_the_field(
    data: str, message: str, template_files: Path, tmp_path: Path
) -> None:
    target = target_with_a_file(tmp_path)
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "-d", data, str(template_files), str(target)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert_untouched(target)


# ---------------------------------------------------------------- every reserved name, without Copier


def validators() -> Any:
    """jinja/validate.jinja in an environment like Copier's (same filters, repository as loader root)."""
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(REPO), extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"]
    )
    return env.get_template("jinja/validate.jinja").module


def reserved_names() -> list[str]:
    every_python = {*keyword.kwlist, *keyword.softkwlist, *sys.stdlib_module_names}
    return sorted(name for name in every_python if name.isidentifier() and name == name.lower())


def test_every_keyword_and_standard_library_name_is_refused_as_package_name() -> None:
    check = validators().package_name_check
    accepted = [name for name in reserved_names() if not str(check(name)).startswith(f'package_name: "{name}" is')]
    assert not accepted, f"accepted as package_name: {accepted}"


def test_every_dependency_of_the_stack_is_refused_as_package_name() -> None:
    check = validators().package_name_check
    for name in ["fastapi", "sqlalchemy", "pydantic", "pydantic_settings", "typer", "alembic", "uvicorn", "stdnum"]:
        assert f'package_name: "{name}" is a dependency of the stack' in str(check(name))


def test_every_typed_question_has_its_raw_answer_checked() -> None:
    """Every question's raw answer is checked against the type Copier converts it to: copier.yml's by the
    table of refuse_mistyped_answers, each module question's by refuse_mistyped_answer in its own `when`
    (a module's derived values, `when: false`, are not answers)."""
    questions = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8").split("\n---\n")[0])
    kinds = {"str": "text", "int": "whole number", "yaml": "yaml"}
    expected = {}
    for name, question in questions.items():
        if name.startswith("_"):
            continue
        assert question["type"] in kinds, f"{name}: type {question['type']} is not checked by refuse_mistyped_answers"
        expected[name] = "list" if question.get("multiselect") else kinds[question["type"]]
    assert dict(validators().ANSWER_TYPES) == expected
    for path in sorted((REPO / "modules").glob("*/questions.yml")):
        for name, question in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            if question.get("when") is False:
                continue
            assert question["type"] in kinds, f"{path}: {name}: type {question['type']} is not checked"
            check = f"refuse_mistyped_answer(_copier_conf.data, '{name}', '{question['type']}')"
            assert check in str(question.get("when")), f"{path}: {name}: its `when` must render {check}"


# ---------------------------------------------------------------- must work


@pytest.mark.parametrize(
    ("deployment_name", "package_name"),
    [
        ("Ελληνική Δημοκρατία", "nation_stack"),
        ("日本", "nation_stack"),
        ("الأردن", "nation_stack"),
        ("日本 2027", "stack_2027"),
        ("Republic of " + "Very " * 22 + "Long Names", ("republic_of_" + "very_" * 11)[:63].rstrip("_")),
    ],
)
def test_package_name_is_derived_for_any_deployment_name(deployment_name: str, package_name: str) -> None:
    expression = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8").split("\n---\n")[0])["package_name"]
    env = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    derived = env.from_string(expression["default"]).render(deployment_name=deployment_name)
    assert derived == package_name
    assert not str(validators().package_name_check(derived))


def test_a_non_ascii_deployment_name_generates(tmp_path: Path) -> None:
    target = generate_stack(tmp_path / "stack", deployment_name="Ελληνική Δημοκρατία", modules=["identity"])
    assert (target / "src" / "nation_stack" / "__init__.py").exists()
    assert (
        yaml.safe_load((target / ".copier-answers.yml").read_text(encoding="utf-8"))["package_name"] == "nation_stack"
    )
