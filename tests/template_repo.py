"""A throw-away git copy of this template in which tests make releases of their own.

A clone may carry no tags, so nothing here relies on tags of the real repository, and updates
are tested between untagged commits (`commit_version`); `release` tags only for scripts/release.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import copier

from .catalogue import REPO

IDENTITY = ["-c", "user.name=Template Test", "-c", "user.email=test@nation-stack.dev"]


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *IDENTITY, *args], cwd=root, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def clone_template(destination: Path) -> Path:
    """A clone of this repository's working tree (uncommitted changes included) with no tags."""
    subprocess.run(["git", "clone", "--quiet", "--no-tags", str(REPO), str(destination)], check=True)
    status = git(REPO, "status", "--porcelain", "--untracked-files=all")
    if status:
        # Developers run the tests on a dirty tree: carry it over as one commit. Git itself
        # reads the tree (as Copier does), so .gitignore, deletions and symlinks are honoured.
        git(destination, f"--work-tree={REPO}", "add", "-A")
        git(destination, "commit", "--quiet", "-m", "working tree under test")
        git(destination, "reset", "--quiet", "--hard")
    for tag in git(destination, "tag", "--list").splitlines():
        git(destination, "tag", "-d", tag)
    return destination


def commit_version(root: Path, version: str, *, note: str = "Test release.") -> str:
    """Commit VERSION and a CHANGELOG section for `version`, untagged (as in a clone); the commit's hash."""
    (root / "VERSION").write_text(f"{version}\n", encoding="utf-8")
    changelog = root / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    if f"## [{version}]" not in text:
        text = text.replace("## [Unreleased]\n", f"## [Unreleased]\n\n## [{version}] - 2026-11-27\n\n- {note}\n", 1)
        changelog.write_text(text, encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "--allow-empty", "-m", f"Release {version}")
    return git(root, "rev-parse", "HEAD")


def release(root: Path, version: str, *, note: str = "Test release.") -> str:
    """`commit_version`, then tag it with scripts/release; the tag."""
    commit_version(root, version, note=note)
    subprocess.run([sys.executable, str(root / "scripts" / "release")], cwd=root, check=True, capture_output=True)
    return f"v{version}"


def generate_at(template: Path, ref: str, destination: Path, **answers) -> Path:
    copier.run_copy(str(template), str(destination), data=answers, defaults=True, vcs_ref=ref, quiet=True)
    git(destination, "init", "--quiet")
    git(destination, "add", "-A")
    git(destination, "commit", "--quiet", "-m", "generated")
    return destination


# What a deployment holds besides the generated files: its git history, databases and their backups.
NOT_GENERATED = {".git", "backups", "__pycache__"}


def generated_files(stack: Path) -> dict[str, bytes]:
    """Each generated file of a deployment (its path from the deployment's root) and its content."""
    return {
        path.relative_to(stack).as_posix(): path.read_bytes()
        for path in sorted(stack.rglob("*"))
        if path.is_file() and not NOT_GENERATED & set(path.relative_to(stack).parts) and path.suffix != ".db"
    }
