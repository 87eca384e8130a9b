"""The loans tests state amounts in minor units; so that "above the four-eyes amount" means the same
in every currency (JPY has no minor digits, JOD three), the test run sets that amount in minor units
too: 10,000,000 of them, written in the test profile's currency. Set at collection, before any
runtime reads the settings; CLI processes the tests start inherit it."""

from __future__ import annotations

import os

import yaml

from ....conftest import profile_for_tests
from ....core.money import major_text

FOUR_EYES_MINOR_UNITS = 10_000_000

os.environ["LOANS_FOUR_EYES_ABOVE"] = major_text(FOUR_EYES_MINOR_UNITS, yaml.safe_load(profile_for_tests())["currency"])
