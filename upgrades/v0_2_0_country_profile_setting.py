"""Upgrade step for 0.2.0: the setting COUNTRY_FILE is now COUNTRY_PROFILE.

Renames the key in the deployment's local `.env` (which Copier does not manage),
keeping its value, comments and order. Run by `upgrades/apply.py` when an update
crosses 0.2.0; idempotent.
"""

from __future__ import annotations

import re
from pathlib import Path

VERSION = "0.2.0"
OLD, NEW = "COUNTRY_FILE", "COUNTRY_PROFILE"


def migrate(deployment: Path) -> str:
    env_file = deployment / ".env"
    if not env_file.is_file():
        return "no .env: nothing to rename"
    text = env_file.read_text(encoding="utf-8")
    renamed = re.sub(rf"^(\s*(?:export\s+)?){OLD}(\s*=)", rf"\g<1>{NEW}\g<2>", text, flags=re.MULTILINE)
    if renamed == text:
        return f"no {OLD} in .env: nothing to rename"
    env_file.write_text(renamed, encoding="utf-8")
    return f"{OLD} renamed to {NEW} in .env"
