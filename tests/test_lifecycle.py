"""Template versions and updates: releases, `copier update` keeping vendor edits, migrations."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import copier
import pytest
import yaml
from copier.errors import UnsafeTemplateError

from .catalogue import REPO
from .scripts import load_script
from .template_repo import clone_template, generate_at, git, release

VENDOR_CORE_LINE = "VENDOR_ROUNDING_NOTE = 'ministry circular 12/2026'  # vendor edit"
VENDOR_MODULE_LINE = "VENDOR_ID_POLICY = 'approved by the registrar'  # vendor edit"


def load_release_script():
    return load_script("release")


def answers_of(stack: Path) -> dict:
    return yaml.safe_load((stack / ".copier-answers.yml").read_text(encoding="utf-8"))


# ---------------------------------------------------------------- releases


def test_release_tags_the_version_once(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    script = load_release_script()
    tag = script.release(template)
    assert tag == f"v{(template / 'VERSION').read_text().strip()}"
    assert git(template, "tag", "--list") == tag
    with pytest.raises(script.ReleaseRefused, match="exists already"):
        script.release(template)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"VERSION": "not-a-version\n"}, "not a PEP 440 version"),
        ({"VERSION": "9.9.9\n"}, "no '## [9.9.9] - YYYY-MM-DD' section"),
    ],
)
def test_release_refuses_what_is_not_ready(tmp_path: Path, change: dict[str, str], message: str) -> None:
    template = clone_template(tmp_path / "template")
    for name, text in change.items():
        (template / name).write_text(text, encoding="utf-8")
    git(template, "commit", "--quiet", "-am", "change")
    script = load_release_script()
    with pytest.raises(script.ReleaseRefused, match=re.escape(message)):
        script.release(template)


def test_release_refuses_a_dirty_tree(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    (template / "README.md").write_text("edited\n", encoding="utf-8")
    script = load_release_script()
    with pytest.raises(script.ReleaseRefused, match="uncommitted"):
        script.release(template)


def test_answers_and_stack_record_version_and_exact_commit(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    tag = release(template, "0.9.0")
    stack = generate_at(template, tag, tmp_path / "stack", modules=["identity"])
    answers = answers_of(stack)
    commit = git(template, "rev-parse", "HEAD")
    assert answers["_commit"] == tag
    assert answers["_template_version"] == "0.9.0"
    assert answers["_template_commit"] == commit
    stack_info = yaml.safe_load(next((stack / "src").glob("*/stack.yml")).read_text(encoding="utf-8"))
    assert (stack_info["template_version"], stack_info["template_commit"]) == ("0.9.0", commit)


# ---------------------------------------------------------------- updates


def test_update_keeps_vendor_edits_brings_new_changes_and_keeps_answers(tmp_path: Path, python: Path) -> None:
    template = clone_template(tmp_path / "template")
    old = release(template, "0.9.0")
    stack = generate_at(
        template, old, tmp_path / "stack", country="JP", modules=["identity", "payments"], licensee_name="Acme GovTech"
    )
    package = answers_of(stack)["package_name"]
    core_file = stack / "src" / package / "core" / "money.py"
    module_file = stack / "src" / package / "modules" / "identity" / "idnumbers.py"
    core_file.write_text(core_file.read_text() + f"\n{VENDOR_CORE_LINE}\n")
    module_file.write_text(module_file.read_text() + f"\n{VENDOR_MODULE_LINE}\n")
    git(stack, "commit", "--quiet", "-am", "vendor edits")

    (template / "template" / "README.md.jinja").write_text(
        (template / "template" / "README.md.jinja").read_text() + "\n## Support\n\nUpstream support notes.\n"
    )
    module_readme = template / "modules" / "identity" / "README.md"
    module_readme.write_text(module_readme.read_text() + "\nUpstream identity note.\n")
    new = release(template, "0.9.1")

    copier.run_update(str(stack), vcs_ref=new, defaults=True, overwrite=True, quiet=True)

    assert VENDOR_CORE_LINE in core_file.read_text()
    assert VENDOR_MODULE_LINE in module_file.read_text()
    assert "Upstream support notes." in (stack / "README.md").read_text()
    assert "Upstream identity note." in (stack / "src" / package / "modules" / "identity" / "README.md").read_text()
    answers = answers_of(stack)
    assert answers["_commit"] == new and answers["_template_version"] == "0.9.1"
    assert (answers["country"], answers["modules"], answers["licensee_name"]) == (
        "JP",
        ["identity", "payments"],
        "Acme GovTech",
    )
    assert not git(stack, "diff", "--name-only", "--diff-filter=U"), "update left conflicts"
    env = {**os.environ, "PYTHONPATH": str(stack / "src")}
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
        cwd=stack,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_crossing_0_2_0_renames_country_file_in_the_local_env(tmp_path: Path, python: Path) -> None:
    template = clone_template(tmp_path / "template")
    current = (template / "VERSION").read_text().strip()
    present = git(template, "rev-parse", "HEAD")
    # Rebuild the world before the rename as release 0.1.0, then restore the present as the next release.
    for path in [*template.joinpath("template").rglob("*"), template / "README.md"]:
        if path.is_file() and not path.is_symlink():
            text = path.read_text(encoding="utf-8")
            older = text.replace("COUNTRY_PROFILE", "COUNTRY_FILE").replace("country_profile", "country_file")
            if older != text:
                path.write_text(older, encoding="utf-8")
    old = release(template, "0.1.0")
    git(template, "checkout", present, "--", ".")
    new = release(template, current)

    stack = generate_at(template, old, tmp_path / "stack", modules=["identity"])
    assert "COUNTRY_FILE" in (stack / ".env.example").read_text()
    (stack / ".env").write_text("# operator settings\nCOUNTRY_FILE=country.yml\nENVIRONMENT=development\n")

    with pytest.raises(UnsafeTemplateError):
        copier.run_update(str(stack), vcs_ref=new, defaults=True, overwrite=True, quiet=True)
    copier.run_update(str(stack), vcs_ref=new, defaults=True, overwrite=True, quiet=True, unsafe=True)

    assert (stack / ".env").read_text() == "# operator settings\nCOUNTRY_PROFILE=country.yml\nENVIRONMENT=development\n"
    assert "COUNTRY_PROFILE" in (stack / ".env.example").read_text()
    package = answers_of(stack)["package_name"]
    env = {**os.environ, "PYTHONPATH": str(stack / "src"), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    for command in (["db", "upgrade"], ["check"]):
        result = subprocess.run(
            [str(python), "-m", package, *command], cwd=stack, env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_update_needs_no_trust_when_no_migration_applies(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    old = release(template, "0.9.0")
    stack = generate_at(template, old, tmp_path / "stack", modules=["identity"])
    new = release(template, "0.9.1")
    copier.run_update(str(stack), vcs_ref=new, defaults=True, overwrite=True, quiet=True, unsafe=False)
    assert answers_of(stack)["_commit"] == new


def test_every_changelog_release_has_a_support_status_and_the_current_one_is_supported() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    released = re.findall(r"^## \[(\d[^\]]*)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    support = yaml.safe_load((REPO / "support.yml").read_text(encoding="utf-8"))["releases"]
    assert sorted(released) == sorted(support)
    assert support[(REPO / "VERSION").read_text(encoding="utf-8").strip()] == "supported"
