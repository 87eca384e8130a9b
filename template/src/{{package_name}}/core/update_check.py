"""`update-check`: fail when a `copier update` left conflicts behind, so CI catches them.

Copier prints nothing when its 3-way merge conflicts: it leaves git-style conflict markers
in the file (or a `<file>.rej` beside it with `--conflict rej`) and exits 0. The vendor's CI
runs this after the update; it exits 1 listing every file to resolve, 0 when there is none.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .i18n import _, ngettext

# Git's own definition (`git diff --check`): seven marker characters at the start of a line,
# then a space or the end of the line.
MARKER = re.compile(r"^(?:<{7}|={7}|>{7})(?: |$)", re.MULTILINE)
BINARY_SNIFF = 8000  # bytes looked at for a NUL, as git does to call a file binary


@dataclass(frozen=True)
class Leftover:
    path: str  # relative to the checked folder, with forward slashes
    marker_lines: tuple[int, ...] = ()  # empty for a .rej file

    @property
    def rejected(self) -> bool:
        return self.path.endswith(".rej")


class NotAWorkTree(Exception):
    pass


def candidate_files(root: Path) -> list[str]:
    """Tracked and untracked files, without the ones .gitignore hides (.venv, databases)."""
    git = shutil.which("git")  # a full path: the command must not depend on what the cwd holds
    if git is None:
        raise NotAWorkTree("git is not installed")
    listed = subprocess.run(  # noqa: S603 - fixed arguments, no input from outside
        [git, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if listed.returncode:
        raise NotAWorkTree(listed.stderr.decode(errors="replace").strip())
    # An unmerged file is listed once per conflict stage.
    return sorted({name for name in listed.stdout.decode().split("\0") if name})


def marker_lines(path: Path) -> tuple[int, ...]:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):  # deleted in the work tree, or a submodule
        return ()
    if b"\0" in data[:BINARY_SNIFF]:
        return ()
    text = data.decode("utf-8", errors="replace")
    return tuple(text.count("\n", 0, match.start()) + 1 for match in MARKER.finditer(text))


def leftovers(root: Path) -> list[Leftover]:
    found = []
    for name in candidate_files(root):
        if name.endswith(".rej"):
            found.append(Leftover(name))
        elif lines := marker_lines(root / name):
            found.append(Leftover(name, lines))
    return found


def update_check(
    folder: Annotated[Path, typer.Argument(help="The deployment's folder (a git work tree)")] = Path("."),
) -> None:
    """After `copier update`: exit 1 listing files with conflict markers or .rej files, 0 when none."""
    out, err = Console(), Console(stderr=True)
    try:
        found = leftovers(folder)
    except NotAWorkTree as error:
        message = _("{folder} is not a git work tree: {reason}").format(folder=folder, reason=error)
        err.print(message, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not found:
        out.print(_("no conflict markers and no .rej files"), style="green")
        return
    heading = ngettext(
        "the update left {count} file to resolve:", "the update left {count} files to resolve:", len(found)
    )
    err.print(heading.format(count=len(found)), style="red")
    for leftover in found:
        if leftover.rejected:
            line = _("{path}: changes the update could not apply; merge them by hand, then delete the file")
            err.print(line.format(path=leftover.path), markup=False, highlight=False, soft_wrap=True)
        else:
            line = _("{path}: conflict markers at lines {lines}")
            lines = ", ".join(map(str, leftover.marker_lines))
            err.print(line.format(path=leftover.path, lines=lines), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)
