import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ..cli import app

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent

runner = CliRunner()
IDENTITY = ["-c", "user.name=Test", "-c", "user.email=test@example.org"]

# Built, not written out: markers at the start of a line here would fail `update-check` on this very file.
CONFLICTED = "\n".join(
    [
        "def rate():",
        "<" * 7 + " before updating",
        "    return 16",
        "=" * 7,
        "    return 18",
        ">" * 7 + " after updating",
        "",
    ]
)


def git(root: Path, *args: str) -> None:
    subprocess.run([shutil.which("git"), *IDENTITY, *args], cwd=root, check=True)  # noqa: S603 - test's own arguments


@pytest.fixture
def work_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed git work tree standing for a deployment after `copier update`."""
    monkeypatch.setenv("NATION_STACK_LOCALE", "en")
    git(tmp_path, "init", "--quiet")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    (tmp_path / "README.md").write_text("Title\n========\n\nA heading underline is not a marker.\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "--quiet", "-m", "deployment")
    return tmp_path


def check(folder: Path):
    return runner.invoke(app, ["update-check", str(folder)], catch_exceptions=False)


def test_a_clean_tree_passes(work_tree: Path) -> None:
    result = check(work_tree)
    assert result.exit_code == 0, result.output
    assert "no conflict markers and no .rej files" in result.output


def test_conflict_markers_and_rej_files_fail_and_are_listed(work_tree: Path) -> None:
    (work_tree / "tracked.py").write_text("x = 1\n")
    git(work_tree, "add", "tracked.py")
    (work_tree / "tracked.py").write_text(CONFLICTED)  # tracked, changed by the update
    (work_tree / "src").mkdir()
    (work_tree / "src" / "new.py").write_text(CONFLICTED)  # untracked: a file the update added
    (work_tree / "src" / "money.py.rej").write_text("@@ -1 +1 @@\n-a\n+b\n")
    (work_tree / "logo.bin").write_bytes(b"\0" + CONFLICTED.encode())  # binary: not looked into
    (work_tree / ".venv").mkdir()
    (work_tree / ".venv" / "site.py").write_text(CONFLICTED)  # ignored by .gitignore
    result = check(work_tree)
    assert result.exit_code == 1, result.output
    assert "the update left 3 files to resolve:" in result.output
    assert "tracked.py: conflict markers at lines 2, 4, 6" in result.output
    assert "src/new.py: conflict markers at lines 2, 4, 6" in result.output
    assert "src/money.py.rej: changes the update could not apply" in result.output
    assert "README.md" not in result.output and "logo.bin" not in result.output and ".venv" not in result.output


def test_one_file_is_named_in_the_singular(work_tree: Path) -> None:
    (work_tree / "settings.py.rej").write_text("@@\n")
    result = check(work_tree)
    assert result.exit_code == 1
    assert "the update left 1 file to resolve:" in result.output


def test_a_folder_outside_git_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATION_STACK_LOCALE", "en")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no enclosing repository either
    result = check(tmp_path)
    assert result.exit_code == 2
    assert "is not a git work tree" in result.output
