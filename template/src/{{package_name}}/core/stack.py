"""What this deployment is: written at generation time into `stack.yml`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel

STACK_FILE = Path(__file__).resolve().parent.parent / "stack.yml"


class StackInfo(BaseModel):
    deployment_name: str
    package_name: str
    template_version: str
    template_commit: str
    licensee: str
    licence_reference: str
    database: str

    @property
    def evaluation(self) -> bool:
        return self.licence_reference == "EVALUATION"


@cache
def stack_info() -> StackInfo:
    return StackInfo.model_validate(yaml.safe_load(STACK_FILE.read_text(encoding="utf-8")))
