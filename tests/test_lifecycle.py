"""Template versions and updates: releases, `copier update` keeping vendor edits, migrations."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml
from copier.errors import UnsafeTemplateError
from filelock import FileLock

from .catalogue import REPO
from .scripts import load_script
from .template_repo import clone_template, commit_version, generate_at, generated_files, git, release

VENDOR_CORE_LINE = "VENDOR_ROUNDING_NOTE = 'ministry circular 12/2026'  # vendor edit"
VENDOR_MODULE_LINE = "VENDOR_ID_POLICY = 'approved by the registrar'  # vendor edit"
COPIER = str(Path(sys.executable).parent / "copier")  # the command a vendor runs, from the template's tools


def load_release_script():
    return load_script("release")


def answers_of(stack: Path) -> dict:
    return yaml.safe_load((stack / ".copier-answers.yml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- releases


def test_release_tags_the_version_once(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    script = load_release_script()
    tag = script.release(template)
    assert tag == f"v{(template / 'VERSION').read_text().strip()}"
    assert git(template, "tag", "--list") == tag
    with pytest.raises(script.ReleaseRefused, match="exists already"):
        script.release(template)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"VERSION": "not-a-version\n"}, "not a PEP 440 version"),
        ({"VERSION": "9.9.9\n"}, "no '## [9.9.9] - YYYY-MM-DD' section"),
    ],
)
def test_release_refuses_what_is_not_ready(tmp_path: Path, change: dict[str, str], message: str) -> None:
    template = clone_template(tmp_path / "template")
    for name, text in change.items():
        (template / name).write_text(text, encoding="utf-8")
    git(template, "commit", "--quiet", "-am", "change")
    script = load_release_script()
    with pytest.raises(script.ReleaseRefused, match=re.escape(message)):
        script.release(template)


def test_release_refuses_a_dirty_tree(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    (template / "README.md").write_text("edited\n", encoding="utf-8")
    script = load_release_script()
    with pytest.raises(script.ReleaseRefused, match="uncommitted"):
        script.release(template)


def test_answers_and_stack_record_version_and_exact_commit(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    tag = release(template, "0.9.0")
    stack = generate_at(template, tag, tmp_path / "stack", modules=["identity"])
    answers = answers_of(stack)
    commit = git(template, "rev-parse", "HEAD")
    assert answers["_commit"] == tag
    assert answers["_template_version"] == "0.9.0"
    assert answers["_template_commit"] == commit
    stack_info = yaml.safe_load(next((stack / "src").glob("*/stack.yml")).read_text(encoding="utf-8"))
    assert (stack_info["template_version"], stack_info["template_commit"]) == ("0.9.0", commit)


# ---------------------------------------------------------------- updates (no tags: commits only)


def test_update_keeps_vendor_edits_brings_new_changes_and_keeps_answers(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    old = commit_version(template, "0.9.0")
    stack = generate_at(
        template, old, tmp_path / "stack", country="JP", modules=["identity", "payments"], licensee_name="Acme GovTech"
    )
    package = answers_of(stack)["package_name"]
    core_file = stack / "src" / package / "core" / "money.py"
    module_file = stack / "src" / package / "modules" / "identity" / "idnumbers.py"
    core_file.write_text(core_file.read_text() + f"\n{VENDOR_CORE_LINE}\n")
    module_file.write_text(module_file.read_text() + f"\n{VENDOR_MODULE_LINE}\n")
    git(stack, "commit", "--quiet", "-am", "vendor edits")

    (template / "template" / "README.md.jinja").write_text(
        (template / "template" / "README.md.jinja").read_text() + "\n## Support\n\nUpstream support notes.\n"
    )
    module_readme = template / "modules" / "identity" / "README.md"
    module_readme.write_text(module_readme.read_text() + "\nUpstream identity note.\n")
    new = commit_version(template, "0.9.1")

    copier.run_update(str(stack), vcs_ref=new, defaults=True, overwrite=True, quiet=True, unsafe=True)

    assert VENDOR_CORE_LINE in core_file.read_text()
    assert VENDOR_MODULE_LINE in module_file.read_text()
    assert "Upstream support notes." in (stack / "README.md").read_text()
    assert "Upstream identity note." in (stack / "src" / package / "modules" / "identity" / "README.md").read_text()
    answers = answers_of(stack)
    assert (answers["_template_version"], answers["_template_commit"]) == ("0.9.1", new)
    assert (answers["country"], answers["modules"], answers["licensee_name"]) == (
        "JP",
        ["identity", "payments"],
        "Acme GovTech",
    )
    assert not git(stack, "diff", "--name-only", "--diff-filter=U"), "update left conflicts"
    # The update is a new generation of 0.9.1 with the vendor's lines kept, file for file: the suite
    # of such a generation runs in test_combinations, so the deployment needs none of its own.
    fresh = generate_at(
        template, new, tmp_path / "fresh", country="JP", modules=["identity", "payments"], licensee_name="Acme GovTech"
    )
    expected = generated_files(fresh)
    for edited, line in ((core_file, VENDOR_CORE_LINE), (module_file, VENDOR_MODULE_LINE)):
        name = edited.relative_to(stack).as_posix()
        expected[name] += f"\n{line}\n".encode()
    updated = generated_files(stack)
    for files in (expected, updated):
        files.pop(".copier-answers.yml")
    different = sorted(name for name in expected.keys() | updated.keys() if expected.get(name) != updated.get(name))
    assert not different, f"the update differs from a new generation plus the vendor's edits: {different}"


def test_every_update_needs_trust_and_is_refused_untouched_without_it(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    old = commit_version(template, "0.9.0")
    stack = generate_at(template, old, tmp_path / "stack", modules=["identity"])
    new = commit_version(template, "0.9.1")  # crosses no upgrade step, and is refused all the same
    with pytest.raises(UnsafeTemplateError, match="migrations"):
        copier.run_update(str(stack), vcs_ref=new, defaults=True, overwrite=True, quiet=True)
    assert answers_of(stack)["_template_commit"] == old and not git(stack, "status", "--porcelain")
    copier.run_update(str(stack), vcs_ref=new, defaults=True, overwrite=True, quiet=True, unsafe=True)
    assert answers_of(stack)["_template_commit"] == new


@pytest.mark.parametrize(
    ("recorded", "target", "expected"),
    [
        (None, "0.2.0", ["0.2.0"]),  # 0.1.0 recorded no version: older than every step
        ("0.1.0", "0.2.0", ["0.2.0"]),
        ("0.1.0", "0.3.0", ["0.2.0", "0.3.0"]),
        ("0.2.0", "0.3.0", ["0.3.0"]),
        ("0.2.0", "0.2.0", []),  # same release, as scripts/modules updates
        ("0.1.0", "0.1.5", []),
    ],
)
def test_upgrade_steps_run_when_the_update_crosses_them(
    tmp_path: Path, recorded: str | None, target: str, expected: list[str]
) -> None:
    template = clone_template(tmp_path / "template")
    (template / "upgrades" / "v0_3_0_marker.py").write_text(
        'VERSION = "0.3.0"\n\n\ndef migrate(deployment):\n    return "0.3.0 ran"\n', encoding="utf-8"
    )
    (template / "VERSION").write_text(f"{target}\n", encoding="utf-8")
    deployment = tmp_path / "deployment"
    deployment.mkdir()
    git(deployment, "init", "--quiet")
    answers = {"_commit": "abc1234", **({"_template_version": recorded} if recorded else {})}
    (deployment / ".copier-answers.yml").write_text(yaml.safe_dump(answers), encoding="utf-8")
    (deployment / ".env").write_text("COUNTRY_FILE=country.yml\n", encoding="utf-8")
    git(deployment, "add", "-A")
    git(deployment, "commit", "--quiet", "-m", "before the update")
    # The answers file in the work tree is already the new one when Copier runs the step.
    (deployment / ".copier-answers.yml").write_text(yaml.safe_dump({"_template_version": target}), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(template / "upgrades" / "apply.py"), ".copier-answers.yml"],
        cwd=deployment,
        capture_output=True,
        text=True,
        check=True,
    )
    assert re.findall(r"^upgrade (\d[\d.]*): ", result.stdout, re.MULTILINE) == expected
    assert (deployment / ".env").read_text().startswith("COUNTRY_PROFILE=" if "0.2.0" in expected else "COUNTRY_FILE=")


# ---------------------------------------------------------------- from the first release on main

# A core file whose end is as 0.1.0 wrote it: core/money.py's end changed since, so an edit there
# is a real conflict the vendor resolves by hand.
FIRST_RELEASE_EDITS = (("core/models.py", VENDOR_CORE_LINE), ("modules/identity/idnumbers.py", VENDOR_MODULE_LINE))
FIRST_RELEASE = "3f97c35"  # the first commit with copier.yml and VERSION (0.1.0); no tag anywhere
VENDOR_ENV = (
    "# operator settings\nCOUNTRY_FILE=country.yml\nDATABASE_URL=sqlite:///./registry.db\nENVIRONMENT=development\n"
)
SETTING_NAMES = ("COUNTRY_FILE", "COUNTRY_PROFILE", "DATABASE_URL", "ENVIRONMENT", "SECRET_KEY", "NATION_STACK_LOCALE")


def stack_env(stack: Path) -> dict[str, str]:
    """The deployment's own settings only (its .env), as on the vendor's machine."""
    env = {key: value for key, value in os.environ.items() if key not in SETTING_NAMES}
    return {**env, "PYTHONPATH": str(stack / "src")}


def table_counts(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        # The table names come from sqlite_master, not from outside.
        count = 'SELECT count(*) FROM "{}"'
        return {table: connection.execute(count.format(table)).fetchone()[0] for table in tables}


@pytest.fixture(scope="module")
def first_release_deployment(tmp_path_factory: pytest.TempPathFactory, python: Path) -> Path:
    """A deployment generated at 0.1.0 from a tag-less clone, with data and vendor edits, committed.

    Built once per run in a folder the xdist workers share, whichever worker each test lands on: the
    tests only copy it, and building it (a clone, a generation, migrations, a seed) is the slow part.
    """
    root = run_shared_folder(tmp_path_factory) / "first-release"
    stack = root / "stack"
    with FileLock(f"{root}.lock"):
        if not (root / "built").exists():
            shutil.rmtree(root, ignore_errors=True)  # left half-built by a worker whose build failed
            build_first_release_deployment(root, stack, python)
            (root / "built").touch()
    return stack


def run_shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary folder that every xdist worker sees (each worker's own is inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_first_release_deployment(root: Path, stack: Path, python: Path) -> None:
    template = clone_template(root / "template")
    modules = git(template, "ls-tree", "--name-only", f"{FIRST_RELEASE}:modules").split()
    modules = [name for name in modules if "." not in name]  # every module 0.1.0 offered
    assert git(template, "show", f"{FIRST_RELEASE}:VERSION") == "0.1.0"
    generate_at(template, FIRST_RELEASE, stack, modules=modules)
    assert "_template_version" not in answers_of(stack)  # 0.1.0 recorded no version
    package = answers_of(stack)["package_name"]
    (stack / ".env").write_text(VENDOR_ENV, encoding="utf-8")
    for command in (["db", "upgrade"], ["seed"], ["check"]):
        result = subprocess.run(
            [str(python), "-m", package, *command], cwd=stack, env=stack_env(stack), capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr
    for relative, line in FIRST_RELEASE_EDITS:
        edited = stack / "src" / package / relative
        edited.write_text(edited.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    git(stack, "commit", "--quiet", "-am", "vendor edits")


def copy_of(deployment: Path, destination: Path) -> Path:
    shutil.copytree(deployment, destination, symlinks=True)
    return destination


def test_update_from_the_first_release_without_trust_is_refused(first_release_deployment: Path, tmp_path: Path) -> None:
    stack = copy_of(first_release_deployment, tmp_path / "stack")
    result = subprocess.run(
        [COPIER, "update", "--defaults"], cwd=stack, env=stack_env(stack), capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "unsafe feature: migrations" in result.stderr and "--trust" in result.stderr
    assert not git(stack, "status", "--porcelain") and (stack / ".env").read_text() == VENDOR_ENV


def test_update_from_the_first_release_migrates_keeps_edits_and_data(
    first_release_deployment: Path, tmp_path: Path, python: Path
) -> None:
    stack = copy_of(first_release_deployment, tmp_path / "stack")
    template = Path(answers_of(stack)["_src_path"])
    package = answers_of(stack)["package_name"]
    data_before = table_counts(stack / "registry.db")
    env = stack_env(stack)

    update = subprocess.run(
        [COPIER, "update", "--trust", "--defaults"], cwd=stack, env=env, capture_output=True, text=True, check=False
    )
    assert update.returncode == 0, update.stderr[-3000:]
    assert "upgrade 0.2.0: COUNTRY_FILE renamed to COUNTRY_PROFILE in .env" in update.stdout
    answers = answers_of(stack)
    assert answers["_template_commit"] == git(template, "rev-parse", "HEAD")
    assert answers["_template_version"] == (template / "VERSION").read_text().strip()
    assert (stack / ".env").read_text() == VENDOR_ENV.replace("COUNTRY_FILE=", "COUNTRY_PROFILE=")
    assert VENDOR_CORE_LINE in (stack / "src" / package / "core" / "models.py").read_text()
    assert VENDOR_MODULE_LINE in (stack / "src" / package / "modules" / "identity" / "idnumbers.py").read_text()

    def run(*command: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *command], cwd=stack, env={**env, **extra_env}, capture_output=True, text=True
        )

    checked = run("-m", package, "update-check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for command in (["db", "upgrade"], ["check"]):
        result = run("-m", package, *command)
        assert result.returncode == 0, result.stdout + result.stderr
    data_after = table_counts(stack / "registry.db")
    assert {table: data_after[table] for table in data_before} == data_before
    assert sum(data_before.values()) > len(data_before), "the seed wrote no data"
    # File for file a new generation at HEAD, plus the vendor's .env and edits: the suite of such a
    # generation runs in test_combinations, so the deployment needs none of its own.
    fresh = generate_at(template, "HEAD", tmp_path / "fresh", modules=answers["modules"])
    expected = generated_files(fresh)
    expected[".env"] = (stack / ".env").read_bytes()  # compared with the vendor's file above
    for relative, line in FIRST_RELEASE_EDITS:
        expected[f"src/{package}/{relative}"] += f"\n{line}\n".encode()
    updated = generated_files(stack)
    for files in (expected, updated):
        files.pop(".copier-answers.yml")
    different = sorted(name for name in expected.keys() | updated.keys() if expected.get(name) != updated.get(name))
    assert not different, f"the update differs from a new generation plus the vendor's edits: {different}"


def test_every_changelog_release_has_a_support_status_and_the_current_one_is_supported() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d[^\]]*)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    support = yaml.safe_load((REPO / "support.yml").read_text(encoding="utf-8"))["releases"]
    assert sorted(released) == sorted(support)
    assert support[(REPO / "VERSION").read_text(encoding="utf-8").strip()] == "supported"
