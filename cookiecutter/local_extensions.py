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
    name = re.sub(r"^([0-9])", r"stack_\1", name) or "nation_stack"  # no ASCII letter or digit, e.g. "日本"
    return name[:63].rstrip("_")  # the longest package name copier.yml's validator allows
