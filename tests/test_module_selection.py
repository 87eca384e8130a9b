"""Changing the module selection of a deployment with scripts/modules: add keeps data, remove warns first."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from .catalogue import REPO, catalogue
from .template_repo import clone_template, generate_at, generated_files, git

SCRIPT = REPO / "scripts" / "modules"
VENDOR_ANSWERS_NOTE = "# Ministry of ICT decision 2026/14: Kenya profile"
VENDOR_LINE = "VENDOR_NOTE = 'treasury circular 3/2026'  # vendor edit"


def load_selection() -> ModuleType:
    """scripts/_selection.py, the helper behind scripts/modules (its dataclasses need it in sys.modules)."""
    name = "nation_stack_selection"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "_selection.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed copy of this template: a deployment's `_commit` must exist in its `_src_path`."""
    return clone_template(tmp_path_factory.mktemp("selection") / "template")


def modules_script(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=env,
    )


def answers_of(stack: Path) -> dict:
    return yaml.safe_load((stack / ".copier-answers.yml").read_text(encoding="utf-8"))


def stack_env(stack: Path, database: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(stack / "src"),
        "DATABASE_URL": f"sqlite:///{database}",
        "ENVIRONMENT": "development",  # production, the default, needs a strong SECRET_KEY
    }


def stack_call(python: Path, stack: Path, database: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**stack_env(stack, database), **env}
    return subprocess.run([str(python), *args], cwd=stack, env=environment, capture_output=True, text=True, check=False)


def stack_run(python: Path, stack: Path, database: Path, *args: str, **env: str) -> str:
    result = stack_call(python, stack, database, *args, **env)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def assert_generated_as(stack: Path, template: Path, modules: list[str], tmp_path: Path) -> None:
    """The deployment holds exactly the files a new generation of `modules` holds, answers aside.

    test_combinations runs that combination's suite, so a deployment that changed its modules needs
    no suite of its own: any difference it could show is a file that differs here.
    """
    fresh = generate_at(template, "HEAD", tmp_path / "fresh", modules=modules)
    changed, expected = generated_files(stack), generated_files(fresh)
    for answers in (changed, expected):
        answers.pop(".copier-answers.yml")
    different = sorted(name for name in changed.keys() | expected.keys() if changed.get(name) != expected.get(name))
    assert not different, f"differs from a new generation of {modules}: {different}"


def tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def people(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {row[0] for row in connection.execute("SELECT national_id FROM identity_person")}


def commit_all(stack: Path, message: str) -> None:
    git(stack, "add", "-A")
    git(stack, "commit", "--quiet", "-m", message)


# ---------------------------------------------------------------- add


def test_add_brings_the_module_and_migrates_forward_keeping_people_and_drop_tables_takes_it_back(
    template: Path, tmp_path: Path, python: Path
) -> None:
    stack = generate_at(template, "HEAD", tmp_path / "stack", modules=["identity"])
    package = answers_of(stack)["package_name"]
    recorded = answers_of(stack)
    answers_file = stack / ".copier-answers.yml"
    answers_file.write_text(
        answers_file.read_text(encoding="utf-8").replace("\ncountry:", f"\n{VENDOR_ANSWERS_NOTE}\ncountry:"),
        encoding="utf-8",
    )
    commit_all(stack, "vendor note in the answers")
    database = tmp_path / "stack.db"
    stack_run(python, stack, database, "-m", package, "db", "upgrade")
    stack_run(python, stack, database, "-m", package, "seed")
    enrolled = people(database)
    assert enrolled, "seed enrolled nobody"

    result = modules_script("add", stack, "payments")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"python -m {package} db upgrade" in result.stdout
    module = stack / "src" / package / "modules" / "payments"
    assert (module / "__init__.py").is_file()
    assert list((module / "migrations").glob("payments_0001_*.py"))
    assert list((module / "tests").glob("test_*.py"))
    answers = answers_of(stack)
    assert answers["modules"] == ["identity", "payments"]
    assert answers["payments_funding_account"] == "TREASURY"  # the new module's question, at its default
    for key in ("_commit", "_template_version", "_template_commit", "licensee_name", "country"):
        assert answers[key] == recorded[key], key
    assert VENDOR_ANSWERS_NOTE in answers_file.read_text(encoding="utf-8"), "Copier's rewrite lost the vendor note"
    assert "PAYMENTS_FUNDING_ACCOUNT=TREASURY" in (stack / "deployment.env").read_text(encoding="utf-8")

    stack_run(python, stack, database, "-m", package, "db", "upgrade")
    assert any(name.startswith("payments_") for name in tables(database))
    assert people(database) == enrolled
    stack_run(python, stack, database, "-m", package, "db", "check")
    assert_generated_as(stack, template, ["identity", "payments"], tmp_path)

    # Back out in one step: --drop-tables has the stack back up and drop the ledger first.
    commit_all(stack, "add payments")
    with_database = {**stack_env(stack, database), "PYTHONPATH": ""}
    removed = modules_script(
        "remove", stack, "payments", "--yes", "--drop-tables", "--python", python, env=with_database
    )

    assert removed.returncode == 0, removed.stdout + removed.stderr
    [backup] = (stack / "backups").glob("*.sqlite")
    assert "dropped the payments tables first" in removed.stdout and str(backup) in " ".join(removed.stdout.split())
    assert not any(name.startswith("payments_") for name in tables(database))
    assert any(name.startswith("payments_") for name in tables(backup))
    assert answers_of(stack)["modules"] == ["identity"] and not (module / "__init__.py").exists()
    assert people(database) == enrolled
    stack_run(python, stack, database, "-m", package, "check")


def test_add_refuses_an_unknown_a_present_module_and_a_dirty_tree(template: Path, tmp_path: Path) -> None:
    stack = generate_at(template, "HEAD", tmp_path / "stack", modules=["identity"])

    unknown = modules_script("add", stack, "land")
    assert unknown.returncode != 0
    assert "no module 'land'" in unknown.stderr
    for name in catalogue():
        assert name in unknown.stderr

    present = modules_script("add", stack, "identity")
    assert present.returncode != 0 and "already in this deployment" in present.stderr

    (stack / "README.md").write_text("edited, not committed\n", encoding="utf-8")
    dirty = modules_script("add", stack, "payments")
    assert dirty.returncode != 0 and "uncommitted changes" in dirty.stderr
    assert not (stack / "src" / answers_of(stack)["package_name"] / "modules" / "payments").exists()
    assert answers_of(stack)["modules"] == ["identity"]


# ---------------------------------------------------------------- remove


def branch_head(migrations: Path) -> str:
    """The revision of a module's migrations folder that no other revision of it revises."""
    revisions, revised = set(), set()
    for script in migrations.glob("*.py"):
        text = script.read_text(encoding="utf-8")
        revisions.update(re.findall(r'^revision: str = "(\w+)"', text, re.MULTILINE))
        revised.update(re.findall(r'^down_revision: .* = "(\w+)"', text, re.MULTILINE))
    (head,) = revisions - revised
    return head


def test_remove_warns_refuses_while_tables_exist_then_removes_after_the_downgrade(
    template: Path, tmp_path: Path, python: Path
) -> None:
    stack = generate_at(template, "HEAD", tmp_path / "stack", modules=["identity", "payments"])
    package = answers_of(stack)["package_name"]
    module = stack / "src" / package / "modules" / "payments"
    edited = module / "service.py"
    edited.write_text(edited.read_text(encoding="utf-8") + f"\n{VENDOR_LINE}\n", encoding="utf-8")
    (module / "vendor_report.py").write_text("REPORT = 'vendor-added'\n", encoding="utf-8")
    commit_all(stack, "vendor edits to payments")
    database = tmp_path / "stack.db"
    stack_run(python, stack, database, "-m", package, "db", "upgrade")
    stack_run(python, stack, database, "-m", package, "seed")
    enrolled = people(database)
    ledger = {name for name in tables(database) if name.startswith("payments_")}
    assert ledger

    warning = modules_script("remove", stack, "payments")

    assert warning.returncode != 0
    output = warning.stdout + warning.stderr
    relative = edited.relative_to(stack).as_posix()
    edited_lines = [line for line in output.splitlines() if relative in line]
    assert edited_lines and "LOCALLY EDITED" in edited_lines[0], output
    unedited = f"src/{package}/modules/payments/models.py"
    assert any(unedited in line and "LOCALLY EDITED" not in line for line in output.splitlines()), output
    assert "including your local edits" in output
    assert f"src/{package}/modules/payments/vendor_report.py" in output  # vendor-added: Copier leaves it
    assert "payments@base --yes" in output and "Nothing was changed" in output
    assert not git(stack, "status", "--porcelain"), "the warning changed the deployment"

    # --yes, while the database the deployment's settings point at still holds the ledger: refused.
    with_database = {**stack_env(stack, database), "PYTHONPATH": ""}
    refused = modules_script("remove", stack, "payments", "--yes", "--python", python, env=with_database)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    flat = " ".join(refused.stderr.split())
    assert "still holds the payments module's tables" in flat and "payments_ledger_account" in flat, flat
    assert f"python -m {package} db downgrade payments@base --yes" in flat and "Nothing was changed" in flat
    assert not git(stack, "status", "--porcelain") and (module / "__init__.py").is_file()
    assert VENDOR_LINE in edited.read_text(encoding="utf-8")
    assert answers_of(stack)["modules"] == ["identity", "payments"]

    # The folder deleted behind the tool's back, tables kept: `check` and `db upgrade` say so in a line.
    head = branch_head(module / "migrations")
    aside = tmp_path / "payments-aside"
    shutil.move(module, aside)
    checked = stack_call(python, stack, database, "-m", package, "check")
    upgraded = stack_call(python, stack, database, "-m", package, "db", "upgrade")
    shutil.move(aside, module)
    assert checked.returncode == 1 and "all checks passed" not in checked.stdout
    assert head in checked.stderr and "payments" in checked.stderr, checked.stderr
    assert upgraded.returncode == 1 and "Traceback" not in upgraded.stderr
    assert next(line for line in upgraded.stderr.splitlines() if head in line).endswith("remove the module")

    # The printed downgrade instruction backs up, then drops the module's tables and nothing else.
    argv = shlex.split(f"python -m {package} db downgrade payments@base --yes")
    downgraded = stack_run(python, stack, database, *argv[1:])
    [backup] = (stack / "backups").glob("*.sqlite")
    assert str(backup) in " ".join(downgraded.split())
    assert not any(name.startswith("payments_") for name in tables(database))
    assert people(database) == enrolled
    restored = tmp_path / "restored.db"
    shutil.copy(backup, restored)  # how docs/lifecycle-modules.md restores a SQLite backup
    assert ledger <= tables(restored) and people(restored) == enrolled
    stack_run(python, stack, restored, "-m", package, "db", "check")  # the ledger is back, at its head

    removed = modules_script("remove", stack, "payments", "--yes", "--python", python, env=with_database)

    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert not edited.exists() and not (module / "__init__.py").exists()
    assert (module / "vendor_report.py").is_file()
    answers = answers_of(stack)
    assert answers["modules"] == ["identity"]
    assert answers["_commit"] == answers_of_commit(stack)
    shutil.rmtree(module)  # the operator deals with the vendor-added file, as the output tells them
    assert "all checks passed" in stack_run(python, stack, database, "-m", package, "check")
    assert people(database) == enrolled
    assert_generated_as(stack, template, ["identity"], tmp_path)


def answers_of_commit(stack: Path) -> str:
    """The `_commit` recorded at generation (first commit of the deployment)."""
    first = git(stack, "rev-list", "--max-parents=0", "HEAD")
    return yaml.safe_load(git(stack, "show", f"{first}:.copier-answers.yml"))["_commit"]


def test_remove_refuses_the_last_module_and_an_absent_one(template: Path, tmp_path: Path) -> None:
    stack = generate_at(template, "HEAD", tmp_path / "stack", modules=["identity"])

    last = modules_script("remove", stack, "identity", "--yes")
    assert last.returncode != 0 and "last module" in last.stderr
    absent = modules_script("remove", stack, "tax", "--yes")
    assert absent.returncode != 0 and "not in this deployment" in absent.stderr
    assert not git(stack, "status", "--porcelain")


# ---------------------------------------------------------------- the answers file's comments and order

COPIER_ANSWERS = """\
# Changes here will be overwritten by Copier; edit with `copier update`, not by hand.
_commit: v0.2.0
_src_path: /srv/nation-stack
country: KE
database: sqlite
deployment_name: 'Acme #1: Stack'
identity_dedup_threshold: 90
licence_reference: EVALUATION
licensee_name: Evaluation Licensee
modules:
- identity
- tax
package_name: acme_1_stack
_template_version: "0.2.0"
_template_commit: "0123456789abcdef0123456789abcdef01234567"
"""


def copier_answers(modules: list[str], *, extra: str = "") -> str:
    listed = "".join(f"- {name}\n" for name in modules)
    text = COPIER_ANSWERS.replace("- identity\n- tax\n", listed)
    return text.replace("package_name: acme_1_stack\n", f"package_name: acme_1_stack\n{extra}")


def test_untouched_answers_are_left_as_copier_wrote_them() -> None:
    selection = load_selection()
    after = copier_answers(["identity", "payments", "tax"], extra="payments_funding_account: TREASURY\n")
    assert selection.restore_answers_layout(COPIER_ANSWERS, after) == after


def test_vendor_comments_and_order_survive_a_module_change() -> None:
    selection = load_selection()
    before = (
        COPIER_ANSWERS.replace("\n_commit:", "\n# contract ABC-123 with the Ministry of ICT\n_commit:")
        .replace("country: KE\n", "country: KE  # chosen by decision 2026/14\n")
        .replace("modules:\n", "# modules approved by the board\nmodules:\n")
        .replace("licensee_name: Evaluation Licensee\n", "")
        .replace("package_name: acme_1_stack\n", "package_name: acme_1_stack\nlicensee_name: Evaluation Licensee\n")
    ) + "# end of answers: questions to ops@acme.example\n"
    after = copier_answers(["identity", "payments", "tax"], extra="payments_funding_account: TREASURY\n")

    restored = selection.restore_answers_layout(before, after)

    assert yaml.safe_load(restored) == yaml.safe_load(after)
    for note in (
        "# contract ABC-123 with the Ministry of ICT\n_commit:",
        "country: KE  # chosen by decision 2026/14\n",
        "# modules approved by the board\nmodules:\n- identity\n- payments\n- tax\n",
        "deployment_name: 'Acme #1: Stack'\n",
        '_template_version: "0.2.0"\n',
        "# end of answers: questions to ops@acme.example\n",
    ):
        assert note in restored, note
    keys = [line.split(":")[0] for line in restored.splitlines() if line and line[0] not in "#- "]
    # The vendor's order; the new answer right after the key it follows in Copier's file.
    assert keys.index("licensee_name") == keys.index("package_name") + 2
    assert keys.index("payments_funding_account") == keys.index("package_name") + 1


def test_a_removed_answer_takes_its_own_comment_along() -> None:
    selection = load_selection()
    before = copier_answers(
        ["identity", "payments"], extra="# funded by the treasury\npayments_funding_account: TREASURY\n"
    ).replace("_template_version", "# release notes: see CHANGELOG\n_template_version")
    after = copier_answers(["identity"])

    restored = selection.restore_answers_layout(before, after)

    assert yaml.safe_load(restored) == yaml.safe_load(after)
    assert "funded by the treasury" not in restored
    assert "# release notes: see CHANGELOG\n_template_version" in restored
