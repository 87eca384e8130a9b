"""One Python environment shared by every generated combination.

All combinations draw their dependencies from one set (the all-modules stack's
pyproject), so one virtualenv, built once and cached by the hash of that list,
serves them all. A project needing others (a module with a dependency of its own, as in
tests/test_fifth_module.py) gets a thin virtualenv layered on the complete one it shares the
most with: that one's site-packages through a `.pth` file, and only the requirements it lacks
installed, instead of installing everything again.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import sysconfig
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
        if not _usable(home):
            venv.EnvBuilder(with_pip=True, clear=True).create(home)
            base = _closest_complete_env(requirements, besides=home)
            if base is None:
                _install(python, requirements)
            else:
                base_requirements = set(_requirements_of(base))
                (site_packages(home) / "_stack_env_base.pth").write_text(f"{site_packages(base)}\n", encoding="utf-8")
                (home / ".base").write_text(str(base), encoding="utf-8")
                _install(python, [r for r in requirements if r not in base_requirements])
            (home / ".complete").write_text("\n".join(requirements), encoding="utf-8")
    return python


def site_packages(home: Path) -> Path:
    return Path(sysconfig.get_path("purelib", scheme="venv", vars={"base": str(home)}))


def _usable(home: Path) -> bool:
    """Complete, and if layered, its base still complete (a cache clean-up may have removed it)."""
    if not (home / ".complete").exists():
        return False
    base = home / ".base"
    return not base.exists() or (Path(base.read_text(encoding="utf-8")) / ".complete").exists()


def _requirements_of(home: Path) -> list[str]:
    return (home / ".complete").read_text(encoding="utf-8").splitlines()


def _closest_complete_env(requirements: list[str], besides: Path) -> Path | None:
    """The complete, unlayered env of this Python that lacks the fewest of `requirements`, if it has any."""
    wanted = set(requirements)
    candidates = [
        home
        for home in CACHE.glob("stack-env-*")
        if home != besides
        and home.is_dir()
        and (home / ".complete").exists()
        and not (home / ".base").exists()
        and _python_version(home) == platform.python_version()
        and wanted & set(_requirements_of(home))
    ]
    return min(candidates, key=lambda home: len(wanted - set(_requirements_of(home))), default=None)


def _python_version(home: Path) -> str:
    for line in (home / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip()
    return ""


def _install(python: Path, requirements: list[str]) -> None:
    """Install with uv, one of the template's tools: seconds, where pip took most of a minute for a
    stack's ~80 packages while both test workers waited for it. Compiled, as pip does: every stack
    suite and every CLI process a test starts imports them."""
    if requirements:
        uv = Path(sys.executable).parent / "uv"
        command = [str(uv), "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python)]
        subprocess.run([*command, *requirements], check=True)
