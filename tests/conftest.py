"""Fixtures for the template tests: generation through Copier's Python API."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pytest

from .catalogue import REPO, catalogue
from .stack_env import stack_python

# The fifth-module fixture is a module folder copied into a template copy, not a test of this suite.
collect_ignore = ["fixtures"]

# How long a stack suite of each kind runs, in rank order: xdist hands tests to its workers one
# at a time in collection order, so starting the longest first keeps both workers busy to the end
# instead of leaving one to finish a whole suite alone.
STACK_SUITE_RANK = {"everything": 4, "whole": 3, "per_country": 3, "selection": 1}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(
        key=lambda item: -max((STACK_SUITE_RANK[m.args[0]] for m in item.iter_markers("stack_suite")), default=0)
    )


PG_SERVER_URL = os.environ.get("NATION_STACK_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

Generate = Callable[..., Path]


def generate_stack(destination: Path, **answers: Any) -> Path:
    """Generate a stack from this repository's working tree with defaults plus `answers`."""
    copier.run_copy(
        str(REPO),
        str(destination),
        data=answers,
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref="HEAD",
    )
    return destination


@pytest.fixture
def generate(tmp_path: Path) -> Generate:
    def run(name: str = "stack", **answers: Any) -> Path:
        return generate_stack(tmp_path / name, **answers)

    return run


@pytest.fixture(scope="session")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stack with every module, generated once per session."""
    return generate_stack(tmp_path_factory.mktemp("full") / "stack", modules=catalogue())


@pytest.fixture(scope="session")
def python(full_stack: Path) -> Path:
    """Interpreter of the environment every generated stack runs in."""
    return stack_python(full_stack)


def postgres_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False
