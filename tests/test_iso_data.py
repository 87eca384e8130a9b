"""jinja/iso.jinja, which Copier's validators read, must match pycountry and iso4217."""

from __future__ import annotations

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
