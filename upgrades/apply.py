"""Run the upgrade steps a `copier update` crosses, decided from the deployment's recorded version.

Copier's own `version:` gate on `_migrations` compares versions it derives from git tags;
in a clone without tags every commit is "0.0.0.postN" and no gated step would ever run.
So copier.yml declares this one ungated migration and this script decides instead: a step
`upgrades/v*.py` (with `VERSION` and `migrate(deployment) -> str`) runs when
old < VERSION <= new, where `new` is this template's VERSION and `old` is the
`_template_version` of the deployment's answers file as committed at HEAD. Copier refuses
to update a dirty tree, so HEAD holds the answers from before the update even in the
"after" stage. Deployments from before 0.2.0 recorded no version: older than every step.

Run by Copier in the deployment's folder with Copier's own Python (PyYAML and packaging
are Copier dependencies): apply.py <answers file>.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import yaml
from packaging.version import Version

UPGRADES = Path(__file__).resolve().parent
OLDEST = Version("0")  # what a deployment that recorded no version is treated as


def recorded_version(deployment: Path, answers_file: str) -> Version:
    git = shutil.which("git") or "git"  # Copier itself needs git on PATH
    shown = subprocess.run(  # noqa: S603 - arguments from copier.yml, not from outside
        [git, "show", f"HEAD:./{answers_file}"], cwd=deployment, capture_output=True, text=True, check=False
    )
    if shown.returncode:
        raise SystemExit(f"upgrade: cannot read {answers_file} at HEAD in {deployment}: {shown.stderr.strip()}")
    recorded = (yaml.safe_load(shown.stdout) or {}).get("_template_version")
    return Version(str(recorded)) if recorded else OLDEST


def steps() -> list[ModuleType]:
    found = []
    for path in sorted(UPGRADES.glob("v*.py")):
        spec = importlib.util.spec_from_file_location(f"nation_stack_upgrade_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found.append(module)
    return sorted(found, key=lambda step: Version(step.VERSION))


def crossed(old: Version, new: Version) -> list[ModuleType]:
    return [step for step in steps() if old < Version(step.VERSION) <= new]


def main(deployment: Path, answers_file: str) -> int:
    new = Version((UPGRADES.parent / "VERSION").read_text(encoding="utf-8").strip())
    old = recorded_version(deployment, answers_file)
    due = crossed(old, new)
    shown_old = "an unrecorded version" if old == OLDEST else str(old)
    if not due:
        print(f"upgrade {shown_old} -> {new}: no upgrade step to run")
    for step in due:
        print(f"upgrade {step.VERSION}: {step.migrate(deployment)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path.cwd(), sys.argv[1] if len(sys.argv) > 1 else ".copier-answers.yml"))
