"""Cookiecutter pre-prompt hook: the module questions come from the Copier template, not from cookiecutter.json.

Cookiecutter runs this in a copy of the cookiecutter/ folder before it asks anything; the copy
holds copier.yml and modules/ through the folder's symlinks. Each module's questions
(modules/<name>/questions.yml, the ones Copier asks) are added to that copy's cookiecutter.json
with Copier's defaults, and the `modules` answer gets Copier's default and choices, so adding a
module adds its questions here too and cookiecutter.json names no module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

CONTEXT_FILE = Path("cookiecutter.json")
# Answers post_gen_project.py reads as JSON text: the module questions of Copier's `yaml` type.
JSON_TEXT_KEY = "_json_text_answers"


def main() -> None:
    context = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))
    core = yaml.safe_load(Path("copier.yml").read_text(encoding="utf-8").split("\n---\n")[0])
    choices = list(core["modules"]["choices"].values())
    context["modules"] = ",".join(core["modules"]["default"])
    prompts = context.setdefault("__prompts__", {})
    prompts["modules"] = f"{prompts.get('modules', 'Modules')}, comma-separated (at least one of {', '.join(choices)})"
    asked: dict[str, Any] = {}
    json_text: list[str] = []
    for path in sorted(Path("modules").glob("*/questions.yml")):
        for name, question in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            if question.get("when") is False:
                continue  # derived by Copier, never asked
            asked[name] = cookiecutter_default(question)
            prompts[name] = " ".join(str(question.get("help", name)).split())
            if question["type"] == "yaml":
                json_text.append(name)
    ordered = {key: value for key, value in context.items() if not key.startswith("_")}
    ordered.update(asked)
    ordered.update({key: value for key, value in context.items() if key.startswith("_")})
    ordered[JSON_TEXT_KEY] = json_text
    CONTEXT_FILE.write_text(json.dumps(ordered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def cookiecutter_default(question: dict[str, Any]) -> Any:
    """Copier's default as Cookiecutter takes it: structured values as JSON text, the rest as they are."""
    default = question.get("default")
    if question["type"] == "yaml":
        return json.dumps(default)
    return default


if __name__ == "__main__":
    main()
