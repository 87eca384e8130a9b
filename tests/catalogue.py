"""The module catalogue, read from `modules/*/module.yml`, and every combination of it."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent

# Jinja left unrendered: `{{ name }}`/`{{ name | filter }}` or a statement tag. Python's own
# doubled braces (f"{{" escapes, regex quantifiers in rf-strings) are not Jinja and pass.
JINJA_MARKUP = re.compile(
    r"\{\{-?\s*[A-Za-z_][\w.]*\s*(\|[^{}]*)?-?\}\}"
    r"|\{%-?\s*(if|elif|else|endif|for|endfor|set|include|import|from|macro|endmacro|raw|filter|block)\b"
)


def catalogue(root: Path = REPO) -> list[str]:
    """Names of the modules the template ships: each folder under modules/ with a manifest."""
    names = []
    for manifest in sorted((root / "modules").glob("*/module.yml")):
        name = yaml.safe_load(manifest.read_text(encoding="utf-8"))["name"]
        names.append(name)
    return names


def module_combinations(root: Path = REPO) -> list[tuple[str, ...]]:
    """Every non-empty subset of the catalogue, smallest first."""
    names = catalogue(root)
    return [combo for size in range(1, len(names) + 1) for combo in combinations(names, size)]


def copier_module_choices(root: Path = REPO) -> list[str]:
    config = yaml.safe_load((root / "copier.yml").read_text(encoding="utf-8").split("\n---\n")[0])
    return sorted(config["modules"]["choices"].values())
