"""The Cookiecutter entry point (cookiecutter/) asks Copier's questions and produces Copier's tree."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from jinja2.sandbox import SandboxedEnvironment

from cookiecutter.hooks import run_pre_prompt_hook

from .catalogue import REPO
from .template_repo import clone_template

ANSWERS = {
    "deployment_name": "Côte d'Ivoire Stack 2027!",  # package name derived: c_te_d_ivoire_stack_2027
    "country": "JP",
    "modules": ["identity", "tax"],
    "database": "postgresql",
    "licensee_name": "Acme GovTech",
    "licence_reference": "LIC-2026-0042",
    "identity_dedup_threshold": 85,
}


def as_cookiecutter(answers: dict[str, Any]) -> dict[str, Any]:
    """The same answers as Cookiecutter takes them: lists comma-separated, numbers as text."""
    return {
        key: ",".join(value) if isinstance(value, list) else str(value) if isinstance(value, int) else value
        for key, value in answers.items()
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed copy of the template, so both generators see the same commit."""
    return clone_template(tmp_path_factory.mktemp("cookiecutter") / "template")


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    """Keep Cookiecutter's clones and replay files out of the home folder."""
    config = tmp_path / "cookiecutterrc.yml"
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'cookiecutters'}\nreplay_dir: {tmp_path / 'replay'}\n", encoding="utf-8"
    )
    return str(config)


def copier_questions() -> dict[str, dict[str, Any]]:
    """Every question Copier asks (derived ones, `when: false`, are not questions)."""
    text = (REPO / "copier.yml").read_text(encoding="utf-8").split("\n---\n")[0]
    config = yaml.safe_load(text)
    for path in sorted((REPO / "modules").glob("*/questions.yml")):
        config.update(yaml.safe_load(path.read_text(encoding="utf-8")))
    return {
        key: value
        for key, value in config.items()
        if not key.startswith("_") and isinstance(value, dict) and value.get("when") is not False
    }


def tree(root: Path) -> dict[str, bytes | str]:
    """Relative path -> content (folders as 'dir', executables marked), for a byte-for-byte comparison."""
    entries: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            entries[relative] = f"symlink -> {os.readlink(path)}"
        elif path.is_dir():
            entries[relative] = "dir"
        else:
            entries[relative] = path.read_bytes() + (b"\n[executable]" if os.access(path, os.X_OK) else b"")
    return entries


def generate_with_copier(template: Path, destination: Path) -> Path:
    copier.run_copy(str(template), str(destination), data=ANSWERS, defaults=True, vcs_ref="HEAD", quiet=True)
    return destination


# ---------------------------------------------------------------- same questions, same defaults


def prompted_context() -> dict[str, Any]:
    """cookiecutter.json as Cookiecutter prompts with it: after hooks/pre_prompt.py added the module questions."""
    prepared = Path(run_pre_prompt_hook(REPO / "cookiecutter"))
    try:
        return json.loads((prepared / "cookiecutter.json").read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(prepared.parent)


def test_cookiecutter_asks_copiers_questions_with_copiers_defaults() -> None:
    questions = copier_questions()
    context = prompted_context()
    asked = {key: value for key, value in context.items() if not key.startswith("_")}
    assert set(asked) == set(questions)
    for key, question in questions.items():
        default, ours = question.get("default"), asked[key]
        if key == "package_name":
            continue  # derived from deployment_name: see the next test
        if key == "licence_grant":
            assert (ours, default) == ("", None), key  # Cookiecutter asks for the grant file's path
            continue
        if key in ("licensee_name", "licence_reference"):
            default = {"licensee_name": "Evaluation Licensee", "licence_reference": "EVALUATION"}[key]  # no grant
        if isinstance(default, list) and (not default or isinstance(default[0], dict)):
            assert json.loads(ours) == default, key  # structured answers, an empty list too, are JSON text
        elif isinstance(default, list):
            assert ours.split(",") == default, key  # lists (the module multiselect too) are comma-separated
        elif "choices" in question:
            assert sorted(ours) == sorted(question["choices"].values()), key
            assert ours[0] == default, f"{key}: Cookiecutter's default is its first choice"
        else:
            assert ours == default, key


def cookiecutter_filter() -> Any:
    """The filter cookiecutter.json loads from cookiecutter/local_extensions.py."""
    spec = importlib.util.spec_from_file_location("local_extensions", REPO / "cookiecutter" / "local_extensions.py")
    assert spec is not None and spec.loader is not None
    extension = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(extension)
    return SandboxedEnvironment(extensions=[extension.nation_stack_package_name]).filters["nation_stack_package_name"]


@pytest.mark.parametrize(
    "name",
    [
        "Nation Stack Demo",
        "Kenya National Stack 2027",
        "2027 Côte d'Ivoire Stack",
        "  ACME -- Gov__Tech  ",
        "日本",
        "Republic of " + "Very " * 22 + "Long Names",
    ],
)
def test_package_name_is_derived_as_copier_derives_it(name: str) -> None:
    copier_env = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    expression = copier_questions()["package_name"]["default"]
    assert cookiecutter_filter()(name) == copier_env.from_string(expression).render(deployment_name=name)


# ---------------------------------------------------------------- same tree


def test_cookiecutter_produces_the_copier_tree(template: Path, tmp_path: Path, config_file: str) -> None:
    expected = generate_with_copier(template, tmp_path / "copier" / "stack")

    project = cookiecutter(
        template=str(template),
        directory="cookiecutter",
        no_input=True,
        extra_context=as_cookiecutter(ANSWERS),
        output_dir=str(tmp_path / "cookiecutter"),
        config_file=config_file,
    )

    assert Path(project).name == "c_te_d_ivoire_stack_2027"
    ours, theirs = tree(Path(project)), tree(expected)
    assert sorted(ours) == sorted(theirs)
    different = [name for name in ours if ours[name] != theirs[name]]
    assert not different, f"differ from Copier's output: {different}"


def test_from_a_git_url_only_the_recorded_source_differs(template: Path, tmp_path: Path, config_file: str) -> None:
    """Cookiecutter clones a URL; the hook hands Copier that URL, so `_src_path` is the URL, not a path."""
    expected = generate_with_copier(template, tmp_path / "copier" / "stack")
    url = template.as_uri()

    project = Path(
        cookiecutter(
            template=f"git+{url}",
            directory="cookiecutter",
            no_input=True,
            extra_context=as_cookiecutter(ANSWERS),
            output_dir=str(tmp_path / "cookiecutter"),
            config_file=config_file,
        )
    )

    ours, theirs = tree(project), tree(expected)
    assert sorted(ours) == sorted(theirs)
    assert [name for name in ours if ours[name] != theirs[name]] == [".copier-answers.yml"]
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    copier_answers = yaml.safe_load((expected / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_src_path"] == f"git+{url}" and copier_answers["_src_path"] == str(template)
    assert {**answers, "_src_path": None, "_commit": None} == {**copier_answers, "_src_path": None, "_commit": None}
    assert same_commit(answers["_commit"], copier_answers["_commit"], answers["_template_commit"])


def same_commit(ours: str, theirs: str, full: str) -> bool:
    """`_commit` is `git describe`: its hash is abbreviated to as many digits as the clone needs to be unambiguous.

    A fresh clone holds fewer objects than the template's checkout, so the two may differ in length (CI saw
    `17c29e9` against `17c29e90`); both must name the recorded full commit.
    """
    described = [value.rpartition("-g") for value in (ours, theirs)]
    same_tag_and_distance = described[0][0] == described[1][0]
    return same_tag_and_distance and all(full.startswith(abbreviated) for _, _, abbreviated in described)


@pytest.mark.parametrize(
    ("ours", "theirs", "same"),
    [
        ("17c29e9", "17c29e90", True),
        ("v0.2.0-3-g17c29e9", "v0.2.0-3-g17c29e90", True),
        ("v0.2.0-3-g17c29e9", "v0.2.0-4-g17c29e9", False),
        ("17c29e9", "17c29e8", False),
    ],
)
def test_the_recorded_commit_may_be_abbreviated_differently(ours: str, theirs: str, same: bool) -> None:
    assert same_commit(ours, theirs, "17c29e9025a8eada1a78f3185787453f1361e1d5") is same


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"package_name": "Not-A-Package"}, "package_name"),
        ({"modules": "identity,land"}, "modules"),
        ({"modules": ""}, "choose at least one module"),
        ({"licence_reference": "x"}, "licence_reference"),
        ({"identity_dedup_threshold": "abc"}, 'identity_dedup_threshold: "abc" is not a whole number'),
        ({"custom_income_tax_brackets": "[not json"}, "not valid JSON"),
    ],
)
def test_a_bad_answer_is_refused_and_nothing_is_left(
    answer: dict[str, str], message: str, template: Path, tmp_path: Path, config_file: str, capfd
) -> None:
    output = tmp_path / "out"
    with pytest.raises(FailedHookException):
        cookiecutter(
            template=str(template),
            directory="cookiecutter",
            no_input=True,
            extra_context=answer,
            output_dir=str(output),
            config_file=config_file,
        )
    captured = capfd.readouterr()
    assert "answer refused, nothing generated" in captured.err and message in captured.err, captured.err
    assert not output.exists() or not any(output.iterdir())


def test_without_copier_the_hook_says_so(template: Path, tmp_path: Path, config_file: str) -> None:
    blocker = tmp_path / "no-copier" / "copier"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('copier is not installed (test)')\n", encoding="utf-8")
    program = (
        "import sys; from cookiecutter.main import cookiecutter\n"
        "from cookiecutter.exceptions import FailedHookException\n"
        "try:\n"
        f"    cookiecutter(template={str(template)!r}, directory='cookiecutter', no_input=True,\n"
        f"                 output_dir={str(tmp_path / 'out')!r}, config_file={config_file!r})\n"
        "except FailedHookException:\n"
        "    sys.exit(3)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(blocker.parent)}
    result = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Copier is not installed" in result.stderr and "pip install" in result.stderr
