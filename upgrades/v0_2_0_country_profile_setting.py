"""Copier migration for 0.2.0: the setting COUNTRY_FILE is now COUNTRY_PROFILE.

Renames the key in the deployment's local `.env` (which Copier does not manage),
keeping its value, comments and order. Run by `copier update` in the deployment's
folder; stdlib only, idempotent.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

OLD, NEW = "COUNTRY_FILE", "COUNTRY_PROFILE"


def migrate(env_file: Path) -> bool:
    if not env_file.is_file():
        return False
    text = env_file.read_text(encoding="utf-8")
    renamed = re.sub(rf"^(\s*(?:export\s+)?){OLD}(\s*=)", rf"\g<1>{NEW}\g<2>", text, flags=re.MULTILINE)
    if renamed == text:
        return False
    env_file.write_text(renamed, encoding="utf-8")
    return True


if __name__ == "__main__":
    changed = migrate(Path(sys.argv[1] if len(sys.argv) > 1 else ".env"))
    print(f"{OLD} renamed to {NEW} in .env" if changed else f"no {OLD} in .env: nothing to rename")
