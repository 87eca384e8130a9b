"""What the licensor tools know about a deployment: read from its folder, a git URL, or /meta."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from ruamel.yaml import YAML

ANSWERS_FILE = ".copier-answers.yml"
GRANT_FILE = Path("licence") / "grant.yml"
_yaml = YAML(typ="rt")


def licence_rules(template: Path):
    """The template's core/licence.py, loaded as a module: one set of licence rules everywhere."""
    path = template / "template" / "src" / "{{package_name}}" / "core" / "licence.py"
    spec = importlib.util.spec_from_file_location("nation_stack_licence", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def read_yaml(path: Path) -> Any:
    """Round-trip load (ruamel.yaml), so tools that write a file back keep its comments and order."""
    with path.open(encoding="utf-8") as handle:
        return _yaml.load(handle)


def is_remote(source: str) -> bool:
    return "://" in source or source.startswith("git@") or source.endswith(".git")


def checkout(source: str, workdir: Path) -> Path:
    """The deployment's folder: `source` itself, or a shallow clone of a git URL into `workdir`."""
    if not is_remote(source):
        folder = Path(source)
        if not (folder / ANSWERS_FILE).is_file():
            raise ValueError(f"{source}: no {ANSWERS_FILE}; not a deployment generated from this template")
        return folder
    target = workdir / f"clone-{abs(hash(source))}"
    result = subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", source, str(target)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ValueError(f"{source}: git clone failed: {result.stderr.strip()}")
    return checkout(str(target), workdir)


@dataclass(frozen=True)
class DeploymentFacts:
    source: str
    name: str
    country: str
    licensee: str
    licence_reference: str
    modules: tuple[str, ...]
    template_version: str
    template_commit: str
    grant: dict[str, Any] | None = None


def facts_from_folder(source: str, folder: Path) -> DeploymentFacts:
    answers = read_yaml(folder / ANSWERS_FILE)
    country = answers.get("custom_country_code") if answers.get("country") == "custom" else answers.get("country")
    return DeploymentFacts(
        source=source,
        name=str(answers.get("deployment_name", folder.name)),
        country=str(country or "?"),
        licensee=str(answers.get("licensee_name", "?")),
        licence_reference=str(answers.get("licence_reference", "?")),
        modules=tuple(answers.get("modules") or ()),
        template_version=str(answers.get("_template_version") or _version_from_ref(str(answers.get("_commit", "")))),
        template_commit=str(answers.get("_template_commit") or answers.get("_commit", "")),
        grant=_grant_in(folder),
    )


def _grant_in(folder: Path) -> dict[str, Any] | None:
    path = folder / GRANT_FILE
    if not path.is_file():
        return None
    raw = read_yaml(path) or {}
    return dict(raw.get("licence_grant") or {}) or None


def facts_from_meta(url: str, key: str) -> DeploymentFacts:
    request = urllib.request.Request(url, headers={"X-API-Key": key, "Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the licensor's own targets
        meta = json.load(response)
    return DeploymentFacts(
        source=url,
        name=meta["deployment"],
        country=meta["country"]["code"],
        licensee=meta["licence"]["licensee"],
        licence_reference=meta["licence"]["reference"],
        modules=tuple(module["name"] for module in meta["modules"]),
        template_version=meta["template"]["version"],
        template_commit=meta["template"]["commit"],
        grant=meta["licence"].get("grant"),
    )


def _version_from_ref(ref: str) -> str:
    candidate = ref.removeprefix("v").split("-")[0]
    try:
        return str(Version(candidate))
    except InvalidVersion:
        return "unknown"
