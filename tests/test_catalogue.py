"""The module catalogue: one folder per module, and nothing else to edit but one choice line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from .catalogue import JINJA_MARKUP, REPO, catalogue, copier_module_choices, module_combinations

MODULE_FILES = ("module.yml", "questions.yml", "README.md", "__init__.py", "router.py", "models.py", "service.py")


def test_catalogue_matches_the_modules_question() -> None:
    assert catalogue() == copier_module_choices()
    assert catalogue(), "no module ships with the template"


@pytest.mark.parametrize("name", catalogue())
def test_each_module_is_one_complete_folder(name: str) -> None:
    folder = REPO / "modules" / name
    for required in MODULE_FILES:
        assert (folder / required).is_file(), f"modules/{name}/{required} is missing"
    assert list((folder / "migrations").glob("*.py")), f"modules/{name} has no migration"
    assert list((folder / "tests").glob("test_*.py")), f"modules/{name} has no tests"
    manifest = yaml.safe_load((folder / "module.yml").read_text(encoding="utf-8"))
    assert manifest["name"] == name
    assert {"title", "version", "summary"} <= manifest.keys()


@pytest.mark.parametrize("name", catalogue())
def test_module_questions_are_asked_only_when_selected(name: str) -> None:
    questions = yaml.safe_load((REPO / "modules" / name / "questions.yml").read_text(encoding="utf-8")) or {}
    for question, spec in questions.items():
        if spec.get("when") is False:
            continue  # derived from other answers, never asked
        assert f"'{name}' in modules" in spec.get("when", ""), f"{question} is asked even without {name}"
        assert spec.get("help"), f"{question} has no help"


def test_module_code_has_no_jinja() -> None:
    for path in (REPO / "modules").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not JINJA_MARKUP.search(text), f"Jinja in {path.relative_to(REPO)}"


def test_a_fourth_module_folder_extends_the_matrix_to_fifteen(tmp_path: Path) -> None:
    root = tmp_path / "template"
    shutil.copytree(REPO / "modules", root / "modules", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "copier.yml", root / "copier.yml")
    first = catalogue()[0]
    shutil.copytree(root / "modules" / first, root / "modules" / "landregistry")
    manifest = root / "modules" / "landregistry" / "module.yml"
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    manifest.write_text(yaml.safe_dump({**data, "name": "landregistry"}), encoding="utf-8")
    size = len(catalogue()) + 1
    assert len(module_combinations(root)) == 2**size - 1
    assert "landregistry" in catalogue(root)
    # The one line to add elsewhere is the choice in copier.yml; the tests notice until it is there.
    assert catalogue(root) != copier_module_choices(root)
