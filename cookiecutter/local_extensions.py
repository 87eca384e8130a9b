"""Jinja filter for cookiecutter.json: the package name Copier derives from the deployment name.

Mirrors the `package_name` default in ../copier.yml; tests/test_cookiecutter.py checks both agree.
"""

from __future__ import annotations

import re

from cookiecutter.utils import simple_filter


@simple_filter
def nation_stack_package_name(deployment_name: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", deployment_name.lower())
    name = re.sub(r"^_+|_+$", "", name)
    return re.sub(r"^([0-9])", r"stack_\1", name)
