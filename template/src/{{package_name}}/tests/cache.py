"""Where a stack's tests keep what they fetch once per machine: axe-core for the browser tests, the
virtualenv of MOSIP's relying-party client for identity's MOSIP tests.

`NATION_STACK_CACHE` names the folder (the template's test run sets it to its own `.cache/`), else a
folder in the system's temporary directory. What is there is reused by every later run, offline too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

CACHE = "NATION_STACK_CACHE"


def cache_folder() -> Path:
    return Path(os.environ.get(CACHE) or Path(tempfile.gettempdir()) / "nation-stack-cache")
