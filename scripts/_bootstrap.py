"""Shared by scripts/test and scripts/demo: a virtualenv with the template's dev tools.

Stdlib only, so a machine with nothing but Python 3.11+ and git can run them.
"""

from __future__ import annotations

import sys

if sys.version_info < (3, 11):  # noqa: UP036 - this is what tells an older Python to go away
    sys.exit("Nation Stack needs Python 3.11 or newer")

import hashlib
import importlib.util
import os
import subprocess
import tomllib
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv"


def dev_requirements() -> list[str]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return pyproject["project"]["optional-dependencies"]["dev"]


def tool_python() -> Path:
    """The .venv interpreter, created and filled on first use or when the requirements change."""
    python = VENV / "bin" / "python"
    requirements = dev_requirements()
    stamp = VENV / ".requirements-sha256"
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    if not python.exists() or not stamp.exists() or stamp.read_text() != digest:
        print(f"setting up {VENV.relative_to(REPO)} with the template's tools ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, *requirements], check=True)
        stamp.write_text(digest)
    return python


def run_in_tools_venv() -> None:
    """Re-run the calling script under the .venv interpreter unless its tools already import here."""
    tools = ("copier", "cryptography", "packaging", "rich", "ruamel.yaml")
    if any(importlib.util.find_spec(name.split(".")[0]) is None for name in tools):
        python = tool_python()
        os.execv(python, [str(python), sys.argv[0], *sys.argv[1:]])  # noqa: S606 - our own interpreter
