"""Every non-empty module combination is generated, linted, migrated and its own suite run."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from .catalogue import JINJA_MARKUP, catalogue, module_combinations
from .conftest import PG_SERVER_URL, Generate, postgres_reachable
from .stack_env import CACHE

COMBINATIONS = module_combinations()
RESULT_LINE = re.compile(r"(\d+) passed")
# Where the stacks' browser tests save their screenshots (the all-modules stack's and Jordan's runs).
SCREENSHOTS = Path(os.environ.get("NATION_STACK_SCREENSHOTS") or CACHE / "screenshots")


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(cwd / "src")}
    for inherited in ("DATABASE_URL", "TEST_DATABASE_URL", "SECRET_KEY", "ENVIRONMENT"):
        environment.pop(inherited, None)
    environment.setdefault("NATION_STACK_CACHE", str(CACHE))  # the browser tests' axe-core, fetched once
    environment.pop("NATION_STACK_SCREENSHOTS", None)  # only the runs that are asked for save screenshots
    environment.update(env)
    # A whole stack suite on a loaded 2-core machine takes minutes; the limit only stops a hang.
    return subprocess.run(args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=1500, check=False)


def assert_ok(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    )


def run_stack_suite(python: Path, stack: Path, *pytest_args: str, **env: str) -> int:
    """Run the generated project's own pytest; return how many tests passed (never zero)."""
    result = run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args], stack, **env)
    assert_ok(result, "the generated test suite")
    passed = RESULT_LINE.search(result.stdout)
    assert passed and int(passed.group(1)) > 0, f"no tests ran:\n{result.stdout[-2000:]}"
    assert " failed" not in result.stdout and " error" not in result.stdout
    return int(passed.group(1))


# A selection run checks how its combination is assembled; each operation's own fuzz at the full
# budget runs in its module's stack and in the all-modules stack (docs/testing.md).
SELECTION_RUN_ENV = {"FUZZ_EXAMPLES_PER_OPERATION": "3"}


def suite_arguments(modules: Sequence[str], everything: Sequence[str], *, browser: bool = True) -> tuple[str, ...]:
    """Which of a stack's own tests a combination runs on SQLite (docs/testing.md says why this covers them all).

    A module alone runs its module's tests and the core's `selection` and `each_module` tests (those
    whose outcome depends on which modules are installed); all modules together run the `selection` tests, the
    browser tests and the core's other tests, which run the same code whatever is installed. The
    all-modules suite runs whole on PostgreSQL. Every other combination runs its `selection` tests.
    `browser` false leaves the real-browser tests out.
    """
    if len(modules) == 1:
        chosen = "not core or selection or each_module"
    elif set(modules) == set(everything):
        chosen = "core or selection or browser"
    else:
        return ("-m", "selection")
    return ("-m", chosen if browser else f"({chosen}) and not browser")


def combination_param(modules: tuple[str, ...], everything: Sequence[str]) -> object:
    """A combination as a test parameter, marked with the kind of suite it runs."""
    kind = "whole" if len(modules) == 1 or len(modules) == len(everything) else "selection"
    return pytest.param(modules, marks=pytest.mark.stack_suite(kind), id="+".join(modules))


def check_combination(
    stack: Path,
    modules: tuple[str, ...],
    python: Path,
    tmp_path: Path,
    everything: Sequence[str] | None = None,
    *,
    browser: bool = True,
    arguments: tuple[str, ...] | None = None,
) -> None:
    """Check a generated stack: only its modules, no Jinja left, lint clean, migrations, its own suite.

    `everything` is the catalogue the combination was drawn from (this template's by default);
    `browser` false leaves the real-browser tests out; `arguments` replace the plan's choice of
    tests (`suite_arguments`). The all-modules stack saves its screenshots.
    """
    package = next(p.name for p in (stack / "src").iterdir() if (p / "modules").is_dir())
    installed = sorted(p.name for p in (stack / "src" / package / "modules").iterdir() if p.is_dir())
    assert installed == sorted(modules)
    for copier_only in ("questions.yml", "readme-section.md"):
        assert not list(stack.rglob(copier_only)), f"Copier-only {copier_only} leaked into the stack"
    for path in stack.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".toml", ".yml", ".yaml", ".md", ".env", ".cfg", ""}:
            text = path.read_text(encoding="utf-8")
            assert not JINJA_MARKUP.search(text), f"unrendered Jinja in {path.relative_to(stack)}"

    assert_ok(run([str(python), "-m", "ruff", "check", "."], stack), "ruff check")
    assert_ok(run([str(python), "-m", "ruff", "format", "--check", "."], stack), "ruff format --check")

    database = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "ENVIRONMENT": "development"}
    assert_ok(run([str(python), "-m", package, "db", "upgrade"], stack, **database), "db upgrade (heads)")
    assert_ok(run([str(python), "-m", package, "db", "check"], stack, **database), "db check")

    everything = catalogue() if everything is None else everything
    if arguments is None:
        arguments = suite_arguments(modules, everything, browser=browser)
    environment = SELECTION_RUN_ENV if arguments[:2] == ("-m", "selection") else {}
    if browser and set(modules) == set(everything):
        environment = {"NATION_STACK_SCREENSHOTS": str(SCREENSHOTS)}
    run_stack_suite(python, stack, *arguments, **environment)


@pytest.mark.parametrize("modules", [combination_param(combo, catalogue()) for combo in COMBINATIONS])
def test_combination_generates_lints_migrates_and_passes_its_suite(
    modules: tuple[str, ...], generate: Generate, python: Path, tmp_path: Path
) -> None:
    stack = generate(modules=list(modules), package_name="stack_" + "_".join(modules))
    check_combination(stack, modules, python, tmp_path)


@pytest.mark.postgresql
@pytest.mark.stack_suite("everything")
def test_full_stack_suite_passes_on_postgresql(full_stack: Path, python: Path) -> None:
    if not postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail("CI must test PostgreSQL but nothing listens on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    # The browser tests ran on SQLite: the pages read the database through the same services.
    assert run_stack_suite(python, full_stack, "-m", "not browser", TEST_DATABASE_URL=PG_SERVER_URL) > 0


def test_combinations_come_from_the_catalogue() -> None:
    names = catalogue()
    assert len(COMBINATIONS) == 2 ** len(names) - 1
    assert len(set(COMBINATIONS)) == len(COMBINATIONS)


def test_each_combination_runs_its_share_of_the_suite() -> None:
    names = ("a", "b", "c", "d")
    assert suite_arguments(("b",), names) == ("-m", "not core or selection or each_module")
    assert suite_arguments(("b",), names, browser=False) == (
        "-m",
        "(not core or selection or each_module) and not browser",
    )
    assert suite_arguments(("d", "c", "b", "a"), names) == ("-m", "core or selection or browser")
    assert suite_arguments(("a", "c"), names) == ("-m", "selection")
    assert suite_arguments(("a", "b", "c"), names) == ("-m", "selection")
    assert suite_arguments(("a", "c"), names, browser=False) == ("-m", "selection")
