"""Every `copier copy` the documentation shows leaves a deployment that `copier update` can update.

The commands are read from the fenced code blocks of README.md and docs/*.md, so a newly
documented command is tested without touching this file. Each runs as written, through a
shell, in a tag-less clone of the template as a user would have it, with the template's
tools at `.venv/bin/` and on PATH; a command without `--defaults` gets Enter at every
question (through a pseudo-terminal, as Copier asks only on a terminal). Placeholders
(`<template>`) and files a reader is assumed to have (a licensor's grant) are filled in
from the tables below; one the tables do not know fails the test, naming it.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .catalogue import REPO
from .template_repo import clone_template, git

# Commands run in the template's folder, so `<template>` is the relative path a user types there.
PLACEHOLDERS = {"<template>": ".", "<folder>": "../stack"}
# Files a documented command names that the reader has and the repository does not.
READER_FILES = {"acme-grant.yml": "licensing/demo-grant.yml"}  # the licensor's grant: the demo one
# Copier options followed by a value, to find the command's two positional arguments.
VALUE_OPTIONS = {"-d", "--data", "--data-file", "-r", "--vcs-ref", "-a", "--answers-file", "-x", "--exclude"}
VALUE_OPTIONS |= {"-s", "--skip", "--conflict", "-c", "--context-lines", "--settings"}
UPDATE = "copier update --trust --defaults"  # as docs/lifecycle.md shows it
ENTER_AFTER_QUIET_SECONDS = 0.7


def documented_commands() -> list[tuple[str, str]]:
    """(where, command) for each `copier copy` line of a fenced block; `\\` continuations joined."""
    found = []
    for document in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        in_block = False
        lines = document.read_text(encoding="utf-8").splitlines()
        number = 0
        while number < len(lines):
            line, start = lines[number], number
            if line.lstrip().startswith("```"):
                in_block = not in_block
            elif in_block:
                while line.endswith("\\") and number + 1 < len(lines):
                    number += 1
                    line = line[:-1] + " " + lines[number].strip()
                if re.search(r"\bcopier copy\b", line):
                    found.append((f"{document.relative_to(REPO)}:{start + 1}", line.strip()))
            number += 1
    return found


COMMANDS = documented_commands()


def substituted(command: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        command = command.replace(placeholder, value)
    unknown = re.findall(r"<[A-Za-z_-]+>", command)
    assert not unknown, f"no value for {unknown} in {command!r}: add it to PLACEHOLDERS"
    return command


def destination_of(command: str, cwd: Path) -> Path:
    words = shlex.split(command, comments=True)
    positional, index = [], words.index("copy") + 1
    while index < len(words) and words[index] not in {"&&", ";", "|"}:
        word = words[index]
        if word in VALUE_OPTIONS:
            index += 1
        elif not word.startswith("-"):
            positional.append(word)
        index += 1
    assert len(positional) == 2, f"expected <template> <destination> in {command!r}, got {positional}"
    return (cwd / positional[1]).resolve()


def run_pressing_enter(command: str, cwd: Path, env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run through a shell on a pseudo-terminal, pressing Enter whenever the command waits quietly."""
    primary, secondary = pty.openpty()
    process = subprocess.Popen(  # noqa: S602 - the documented command, as a reader runs it
        command, shell=True, cwd=cwd, env=env, stdin=secondary, stdout=secondary, stderr=secondary
    )
    os.close(secondary)
    output, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], ENTER_AFTER_QUIET_SECONDS)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the command ended and closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is None:
            os.write(primary, b"\r")  # a question waiting: take its default
        else:
            break
    else:
        process.kill()
    os.close(primary)
    return process.wait(timeout=30), output.decode(errors="replace")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clone_template(tmp_path_factory.mktemp("documented") / "template")


def test_the_readme_commands_are_found_and_the_update_is_the_documented_one() -> None:
    assert ("README.md", ".venv/bin/copier copy --defaults . ../kenya-stack") in {
        (where.split(":")[0], command.split("  #")[0].strip()) for where, command in COMMANDS
    }
    for document in ("README.md", "docs/lifecycle.md"):
        assert UPDATE in (REPO / document).read_text(encoding="utf-8"), f"{document} shows another update command"


@pytest.mark.parametrize(("where", "command"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_documented_generation_leaves_an_updatable_deployment(
    where: str, command: str, pristine: Path, tmp_path: Path
) -> None:
    template = tmp_path / "template"
    subprocess.run(["git", "clone", "--quiet", "--no-tags", str(pristine), str(template)], check=True)
    tools = Path(sys.prefix)
    (template / ".venv").symlink_to(tools)  # `.venv/bin/copier`, as scripts/_bootstrap makes it
    for name, source in READER_FILES.items():
        shutil.copy(template / source, template / name)
    # Untracked files would make Copier generate from a commit of its own that the template
    # never has (see docs/lifecycle.md); a user's own files are ignored, so are these.
    (template / ".git" / "info" / "exclude").write_text("\n".join([".venv", *READER_FILES]) + "\n")
    command = substituted(command)
    env = {**os.environ, "PATH": f"{tools / 'bin'}{os.pathsep}{os.environ['PATH']}", "TERM": "dumb"}

    code, output = run_pressing_enter(command, template, env)
    assert code == 0, f"{where}: {command}\n{output[-3000:]}"
    deployment = destination_of(command, template)
    recorded = yaml.safe_load((deployment / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert Path(recorded["_src_path"]) == template.resolve()

    git(deployment, "init", "--quiet")
    git(deployment, "add", "-A")
    git(deployment, "commit", "--quiet", "-m", "generated")
    update = subprocess.run(shlex.split(UPDATE), cwd=deployment, env=env, capture_output=True, text=True, check=False)
    assert update.returncode == 0, f"{where}: {UPDATE} after {command}\n{update.stderr[-3000:]}"
    assert "no upgrade step to run" in update.stdout + update.stderr
    assert not git(deployment, "status", "--porcelain"), "an update to the same commit changed files"
