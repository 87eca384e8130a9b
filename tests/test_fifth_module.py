"""A fifth module is its folder plus one choice line: added to a copy of the template, nothing else edited.

The toy module `parcels` (tests/fixtures/fifth_module/parcels/) has its own dependency (humanize),
a setting with its deployment.env line, a profile section with a check, a question, a catalog, a
port it provides and uses, a route, a CLI command, a migration and its own tests. It is written
into a git clone of this template as modules/parcels/ with one choice line in copier.yml; the
commit that adds it touches nothing else, and it is generated and checked like the shipped
modules (tests/test_combinations.py's check_combination) alone and with the whole catalogue.

Those two prove the contract, whatever the size of the catalogue: two stack runs, not the 2ⁿ
combinations that include the toy. It reaches the other modules through ports and the assembly only
(the two channels of docs/testing.md) and asks for no port but its own, so its tests run alike in
every combination; the assembly (migrations, OpenAPI, settings, CLI, catalogs) is built module by
module, and the core's selection tests, which check it, run with the toy alone and beside every
shipped module. The mixes
in between only show the shipped modules a module they cannot see, and each shipped mix runs in
tests/test_combinations.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import copier
import pytest
import yaml

from .catalogue import catalogue
from .stack_env import stack_python
from .template_repo import clone_template, git
from .test_combinations import check_combination, run_stack_suite

TOY = "parcels"
TOY_FOLDER = Path(__file__).resolve().parent / "fixtures" / "fifth_module" / TOY
CHOICE_LINE = "    Parcels — registered land parcels (a toy module): parcels\n"
LAST_CHOICE = "    Tax — taxpayer register and assessment from the country's law: tax\n"
WITH_TOY = [(TOY,), (*catalogue(), TOY)]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this template with the toy module added in one commit: its folder and one choice line."""
    root = clone_template(tmp_path_factory.mktemp("fifth-module") / "template")
    shutil.copytree(TOY_FOLDER, root / "modules" / TOY)
    copier_yml = root / "copier.yml"
    text = copier_yml.read_text(encoding="utf-8")
    assert LAST_CHOICE in text, "the modules question changed: update LAST_CHOICE"
    copier_yml.write_text(text.replace(LAST_CHOICE, LAST_CHOICE + CHOICE_LINE), encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", "Add the parcels module")
    return root


@pytest.fixture(scope="module")
def toy_python(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment for every combination, as for the shipped ones: the all-modules stack's, humanize included."""
    every = generate(template, tmp_path_factory.mktemp("every") / "stack", modules=[*catalogue(), TOY])
    return stack_python(every)


def generate(template: Path, destination: Path, **answers: object) -> Path:
    copier.run_copy(str(template), str(destination), data=answers, defaults=True, quiet=True, vcs_ref="HEAD")
    return destination


def test_adding_the_module_touches_only_its_folder_and_one_choice_line(template: Path) -> None:
    changed = git(template, "diff", "--name-only", "HEAD~1", "HEAD").splitlines()
    assert {path for path in changed if not path.startswith(f"modules/{TOY}/")} == {"copier.yml"}
    diff = git(template, "diff", "--unified=0", "HEAD~1", "HEAD", "--", "copier.yml").splitlines()
    assert [line for line in diff if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))] == [
        "+" + CHOICE_LINE.rstrip("\n")
    ]


def test_generation_takes_the_dependency_setting_and_profile_section_from_the_folder(
    template: Path, tmp_path: Path
) -> None:
    stack = generate(template, tmp_path / "stack", modules=[TOY], parcels_registry_code="CADASTRE", country="custom")
    pyproject = (stack / "pyproject.toml").read_text(encoding="utf-8")
    assert '"humanize>=4",' in pyproject
    assert "PARCELS_REGISTRY_CODE=CADASTRE" in (stack / "deployment.env").read_text(encoding="utf-8")
    assert yaml.safe_load((stack / "country.yml").read_text(encoding="utf-8"))["parcels"] == {"area_unit": "m2"}
    assert not list(stack.rglob("copier/dependencies.txt")), "the module's copier/ folder leaked into the stack"


def test_a_bad_profile_section_and_a_bad_answer_are_refused_at_generation(template: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="parcels_registry_code") as refusal:
        generate(template, tmp_path / "answer", modules=[TOY], parcels_registry_code="land")
    assert 'parcels_registry_code: "land" is not allowed' in str(refusal.value)

    profile = template / "countries" / "KE.yml"
    original = profile.read_text(encoding="utf-8")
    try:
        profile.write_text(original + "parcels:\n  area_unit: acre\n", encoding="utf-8")
        with pytest.raises(ValueError, match="country") as refusal:
            generate(template, tmp_path / "profile", modules=[TOY], country="KE")
    finally:
        profile.write_text(original, encoding="utf-8")
    assert 'countries/KE.yml: parcels.area_unit: "acre" is not allowed; allowed: m2, ha' in str(refusal.value)


@pytest.mark.parametrize(
    "modules", [pytest.param(combo, marks=pytest.mark.stack_suite("whole"), id="+".join(combo)) for combo in WITH_TOY]
)
def test_the_module_alone_and_with_the_whole_catalogue_generates_lints_migrates_and_passes_its_suite(
    template: Path, toy_python: Path, tmp_path: Path, modules: tuple[str, ...]
) -> None:
    package = "stack_" + "_".join(modules)
    stack = generate(template, tmp_path / "stack", modules=list(modules), package_name=package)
    everything = [*catalogue(), TOY]
    # The pages' browser tests are the shipped combinations' (they do not change with a fifth module).
    if modules == (TOY,):
        check_combination(stack, modules, toy_python, tmp_path, everything=everything, browser=False)
        return
    # With the whole catalogue, the shipped modules' tests run the same code on the same inputs as in
    # the shipped all-modules stack (docs/testing.md), their selection tests included: each asks for
    # shipped partners only, and the toy provides no port they use. What the toy can change is the
    # assembly, which the core's selection tests check (migrations, OpenAPI and its fuzz at a
    # selection run's budget, settings, CLI, catalogs, import contracts, the authorisation matrix),
    # and its own tests beside every shipped module.
    core_selection = ("-m", "selection", f"src/{package}/tests")
    check_combination(
        stack, modules, toy_python, tmp_path, everything=everything, browser=False, arguments=core_selection
    )
    assert run_stack_suite(toy_python, stack, f"src/{package}/modules/{TOY}/tests") > 0
