"""The loans tests' fixtures: the people the page tests (TestClient and browser) start from.

The loans tests state amounts in minor units; so that "above the four-eyes amount" means the same
in every currency (JPY has no minor digits, JOD three), the test run sets that amount in minor units
too: 10,000,000 of them, written in the test profile's currency. Set at collection, before any
runtime reads the settings; CLI processes the tests start inherit it."""

from __future__ import annotations

import os

import pytest
import yaml
from fastapi.testclient import TestClient

from ....conftest import profile_for_tests
from ....core.country import LoadedCountry
from ....core.money import major_text
from ....core.registry import Ports
from .helpers import OFFICER, ApplyingResident, HeldApplication, a_product, a_resident, applicant, threshold

FOUR_EYES_MINOR_UNITS = 10_000_000

os.environ["LOANS_FOUR_EYES_ABOVE"] = major_text(FOUR_EYES_MINOR_UNITS, yaml.safe_load(profile_for_tests())["currency"])


@pytest.fixture
def applying_resident(
    client: TestClient, country: LoadedCountry, ports: Ports, api_headers, staff_headers, resident_cookies
) -> ApplyingResident:
    """Skips without identity (national IDs, resident sessions)."""
    national_id = a_resident(client, api_headers, ports)
    product = a_product(client, staff_headers, country)
    return ApplyingResident(national_id, resident_cookies(national_id), product)


@pytest.fixture
def held_application(
    client: TestClient, country: LoadedCountry, ports: Ports, api_headers, staff_headers, staff_cookies
) -> HeldApplication:
    """Submitted through the API by a loan officer signed in to the console; the client is left signed out."""
    product = a_product(client, staff_headers, country)
    maker = staff_cookies(OFFICER)
    body = {"product": product, "principal": threshold(country) * 2, **applicant(client, api_headers, ports)}
    client.cookies.clear()
    client.cookies.update(maker)
    response = client.post("/loans/applications", json=body)
    client.cookies.clear()
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "awaiting_approval"
    return HeldApplication(response.json()["reference"], product, maker)
