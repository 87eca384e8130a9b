"""What every command does before its work, the core's and every module's alike.

Build the runtime (settings, every part's settings, the country profile, the engine); a
mistake in any of them is one message and exit code 2, never a traceback. Without a locale in
the environment, messages from then on follow the profile's (the CLI's callback restores the
locale when the command ends). A domain problem is its detail and exit code 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from sqlalchemy.exc import ArgumentError

from . import i18n
from .country import CountryProfileError
from .errors import Problem
from .i18n import _
from .runtime import Runtime, build_runtime

err_console = Console(stderr=True)


def open_runtime(build: Callable[[], Runtime] = build_runtime) -> Runtime:
    """The deployment's runtime, or exit 2 with what is wrong; the caller disposes of its engine."""
    try:
        runtime = build()
    except (CountryProfileError, ValidationError) as error:
        _configuration_error(str(error))
    except ArgumentError as error:  # only the engine is built from a URL
        _configuration_error(f"DATABASE_URL: {error}")
    if i18n.locale_from_environment() is None:
        i18n.set_locale(i18n.negotiate(None, runtime.country.profile.locale))
    return runtime


@contextmanager
def command_runtime() -> Iterator[Runtime]:
    """`open_runtime()` for the length of a command, its engine closed at the end."""
    runtime = open_runtime()
    try:
        yield runtime
    finally:
        runtime.engine.dispose()


@contextmanager
def refused_problem() -> Iterator[None]:
    """A domain problem (an unknown partner, a closed cycle): its detail on one line and exit code 1."""
    try:
        yield
    except Problem as problem:
        err_console.print(problem.detail, style="red", soft_wrap=True, markup=False)
        raise typer.Exit(1) from None


@contextmanager
def refused_input() -> Iterator[None]:
    """`refused_problem()`, but input the operator typed wrong (a weak password, an unknown role) exits 2."""
    try:
        yield
    except Problem as problem:
        err_console.print(problem.detail, style="red", soft_wrap=True, markup=False)
        raise typer.Exit(2 if problem.field else 1) from None


def _configuration_error(detail: str) -> NoReturn:
    err_console.print(_("Configuration error"), style="red")
    err_console.print(detail, markup=False, highlight=False)
    raise typer.Exit(2) from None
