"""The identity calls on records with a region, for the core's authorisation matrix (tests/region_calls.py).

Each set-up enrols through the API with the matrix's partner: a person born on a day of their own
(deduplication compares people born the same day), or the same person twice to hold the second.
"""

from __future__ import annotations

from datetime import date, timedelta

from ....tests.region_calls import RegionCall, RegionRequest, RegionSetup

REGISTRAR = "identity.registrar"
ADJUDICATOR = "identity.adjudicator"


def _application(setup: RegionSetup, suffix: str = "a") -> dict:
    return {
        "application_id": f"region-{setup.serial:04d}-{suffix}",
        "given_name": "Amina",
        "family_name": "Wanjiru",
        "date_of_birth": (date(1950, 1, 1) + timedelta(days=setup.serial)).isoformat(),
        "sex": "F",
        "address": setup.address,
    }


def _enrolled(setup: RegionSetup, suffix: str = "a") -> dict:
    response = setup.client.post("/identity/enrolments", json=_application(setup, suffix), headers=setup.partner)
    assert response.status_code in {201, 202}, response.text
    return response.json()


def enrol(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", "/identity/enrolments", _application(setup))


def read_enrolment(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("GET", f"/identity/enrolments/{_enrolled(setup)['application_id']}")


def look_up(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", "/identity/persons/lookup", {"national_id": _enrolled(setup)["national_id"]})


def _held(setup: RegionSetup) -> str:
    _enrolled(setup)
    held = _enrolled(setup, "b")
    assert held["status"] == "held_for_adjudication", held
    return held["application_id"]


def held_queue(setup: RegionSetup) -> RegionRequest:
    _held(setup)
    return RegionRequest("GET", f"/identity/enrolments/held?region={setup.region}")


def adjudicate(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", f"/identity/enrolments/{_held(setup)}/adjudication", {"decision": "issue"})


def change_status(setup: RegionSetup) -> RegionRequest:
    national_id = _enrolled(setup)["national_id"]
    body = {"national_id": national_id, "status": "deactivated", "reason": "moved abroad"}
    return RegionRequest("POST", "/identity/persons/status", body)


CALLS = (
    RegionCall("POST /identity/enrolments", REGISTRAR, enrol),
    RegionCall("GET /identity/enrolments/{application_id}", REGISTRAR, read_enrolment),
    RegionCall("POST /identity/persons/lookup", REGISTRAR, look_up),
    RegionCall("GET /identity/enrolments/held?region=", ADJUDICATOR, held_queue),
    RegionCall("POST /identity/enrolments/{application_id}/adjudication", ADJUDICATOR, adjudicate),
    RegionCall("POST /identity/persons/status", ADJUDICATOR, change_status),
)
