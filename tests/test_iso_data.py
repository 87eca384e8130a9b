"""The data Copier's validators read: jinja/iso.jinja must match pycountry and iso4217, and
jinja/reserved.jinja must hold the running Python's keywords and standard-library modules."""

from __future__ import annotations

import ast
import keyword
import re
import sys
from zoneinfo import ZoneInfo

from .catalogue import REPO
from .scripts import load_script


def test_iso_lists_are_current() -> None:
    current = (REPO / "jinja" / "iso.jinja").read_text(encoding="utf-8").splitlines()
    fresh = load_script("refresh-iso-data").render().splitlines()
    by_name = {line.split()[2]: line for line in fresh if line.startswith("{%- set")}
    for line in current:
        if line.startswith("{%- set") and line.split()[2] != "timezones":
            assert line == by_name[line.split()[2]], f"{line.split()[2]} is stale: run scripts/refresh-iso-data"


def test_every_listed_time_zone_exists_here() -> None:
    line = next(line for line in (REPO / "jinja" / "iso.jinja").read_text().splitlines() if "set timezones" in line)
    zones = line.split("[", 1)[1].rsplit("]", 1)[0].replace('"', "").split(",")
    assert len(zones) > 300
    for zone in zones:
        ZoneInfo(zone)


# ---------------------------------------------------------------- jinja/reserved.jinja


def reserved_lists(text: str) -> dict[str, set[str]]:
    found = re.findall(r"\{%- set (\w+) = (\[.*?\]) -%\}", text)
    return {name: set(ast.literal_eval(values)) for name, values in found}


def test_reserved_names_hold_this_pythons_keywords_and_standard_library() -> None:
    """A superset: the file is the union over the supported Pythons (scripts/refresh-reserved-names)."""
    recorded = reserved_lists((REPO / "jinja" / "reserved.jinja").read_text(encoding="utf-8"))
    missing_keywords = {*keyword.kwlist} - recorded["python_keywords"]
    missing_keywords |= {*keyword.softkwlist} - recorded["python_soft_keywords"]
    missing_modules = set(sys.stdlib_module_names) - recorded["stdlib_modules"]
    assert not missing_keywords and not missing_modules, "stale: run scripts/refresh-reserved-names with this Python"


def test_reserved_names_hold_the_stacks_dependencies() -> None:
    recorded = reserved_lists((REPO / "jinja" / "reserved.jinja").read_text(encoding="utf-8"))
    fresh = reserved_lists(load_script("refresh-reserved-names").render())
    assert recorded["dependency_names"] == fresh["dependency_names"], "stale: run scripts/refresh-reserved-names"
    assert {"fastapi", "sqlalchemy", "pydantic", "yaml", "stdnum"} <= recorded["dependency_names"]
