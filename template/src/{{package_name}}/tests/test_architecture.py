"""The house rules hold: `lint-imports` keeps every contract of `.importlinter`, and breaks each on a forbidden import.

The contracts: the core imports no module; modules are independent of each other (ports are the
only way between them); a router or a CLI is imported only by its own module's registration and
by tests. They are written with wildcards, so they hold for whatever modules are installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..core.registry import installed_modules

pytestmark = [pytest.mark.selection, pytest.mark.country_independent]

PACKAGE = Path(__file__).resolve().parents[1]
PROJECT = PACKAGE.parents[1]
CONTRACTS = ("The core imports no module", "Modules are independent of each other", "Routers and CLIs are entry points")


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(source_root)}
    # `lint-imports` is the console script of this command; an environment may have no scripts folder.
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(  # noqa: S603 - this interpreter, arguments built here
        [sys.executable, "-c", command, "--config", str(PROJECT / ".importlinter"), "--no-cache"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_contract_is_kept() -> None:
    result = lint_imports(PROJECT / "src")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for contract in CONTRACTS:
        assert contract in result.stdout


def test_each_contract_breaks_on_a_forbidden_import(tmp_path: Path) -> None:
    copy = tmp_path / "src" / PACKAGE.name
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    names = [module.name for module in installed_modules()]
    first, partner = names[0], names[-1]
    (copy / "core" / "reaches_into_a_module.py").write_text(f"from ..modules import {first}\n", encoding="utf-8")
    (copy / "modules" / first / "calls_its_router.py").write_text("from .router import router\n", encoding="utf-8")
    broken = ["The core imports no module", "Routers and CLIs are entry points"]
    if partner != first:
        (copy / "modules" / first / "calls_a_partner.py").write_text(f"from .. import {partner}\n", encoding="utf-8")
        broken.append("Modules are independent of each other")

    result = lint_imports(tmp_path / "src")

    assert result.returncode != 0
    report = result.stdout.split("Broken contracts", 1)[-1]
    for contract in broken:
        assert contract in report, f"{contract!r} not reported broken:\n{result.stdout[-4000:]}"
