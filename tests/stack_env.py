"""One Python environment shared by every generated combination.

All combinations draw their dependencies from one set (the all-modules stack's
pyproject), so one virtualenv, built once and cached by the hash of that list,
serves them all.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

from filelock import FileLock

from .catalogue import REPO

CACHE = Path(os.environ.get("NATION_STACK_CACHE", REPO / ".cache"))


def stack_requirements(project: Path) -> list[str]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    project_table = pyproject["project"]
    return sorted({*project_table["dependencies"], *project_table["optional-dependencies"]["dev"]})


def stack_python(project: Path) -> Path:
    """The interpreter of a virtualenv holding `project`'s dependencies, created on first use."""
    requirements = stack_requirements(project)
    digest = hashlib.sha256("\n".join([sys.version, *requirements]).encode()).hexdigest()[:16]
    home = CACHE / f"stack-env-{digest}"
    python = home / "bin" / "python"
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(CACHE / f"stack-env-{digest}.lock")):
        if not (home / ".complete").exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(home)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
                check=True,
            )
            (home / ".complete").write_text("\n".join(requirements), encoding="utf-8")
    return python
