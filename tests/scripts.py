"""Import one of the extension-less scripts under scripts/ as a module, for testing its functions."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from types import ModuleType

from .catalogue import REPO


def load_script(name: str) -> ModuleType:
    module_name = name.replace("-", "_")
    loader = importlib.machinery.SourceFileLoader(module_name, str(REPO / "scripts" / name))
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is being built.
    sys.modules[module_name] = module
    loader.exec_module(module)
    return module
