"""The tax calls on taxpayers with a region, for the core's authorisation matrix (tests/region_calls.py).

Each set-up registers a taxpayer in the set-up's region through the API with the matrix's partner,
and files a return or lodges an objection where the call needs one.
"""

from __future__ import annotations

from ....tests.region_calls import RegionCall, RegionRequest, RegionSetup
from .helpers import a_year

OFFICER = "tax.officer"
OBJECTIONS_OFFICER = "tax.objections_officer"
INCOME = 5_000_000  # minor units
# Whether the deployment has a VAT law, and of which period, decides the answer past the region check,
# which comes first: a refused period or a missing return is still neither 401 nor 403.
VAT_PERIOD = "2024-01"


def _registration(setup: RegionSetup) -> dict:
    return {"kind": "business", "name": "Duka Ltd", "external_id": f"REGION-{setup.serial}", "address": setup.address}


def _post(setup: RegionSetup, path: str, body: dict) -> dict:
    response = setup.client.post(path, json=body, headers=setup.partner)
    assert response.status_code == 201, response.text
    return response.json()


def _tin(setup: RegionSetup) -> str:
    return _post(setup, "/tax/taxpayers", _registration(setup))["tin"]


def _assessment(setup: RegionSetup) -> dict:
    body = {"tin": _tin(setup), "year": a_year(setup.country), "income": INCOME, "currency": _currency(setup)}
    return _post(setup, "/tax/returns", body)


def _objection(setup: RegionSetup) -> int:
    return _post(setup, "/tax/objections", {"assessment_id": _assessment(setup)["id"], "grounds": "wrong income"})["id"]


def _currency(setup: RegionSetup) -> str:
    return setup.country.profile.currency


def register(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", "/tax/taxpayers", _registration(setup))


def read_taxpayer(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("GET", f"/tax/taxpayers/{_tin(setup)}")


def change_status(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", f"/tax/taxpayers/{_tin(setup)}/status", {"status": "deregistered"})


def file_return(setup: RegionSetup) -> RegionRequest:
    body = {"tin": _tin(setup), "year": a_year(setup.country), "income": INCOME, "currency": _currency(setup)}
    return RegionRequest("POST", "/tax/returns", body)


def amend_return(setup: RegionSetup) -> RegionRequest:
    filed = _assessment(setup)
    return RegionRequest("POST", f"/tax/returns/{filed['tin']}/{filed['year']}/amendments", {"income": INCOME // 2})


def file_vat_return(setup: RegionSetup) -> RegionRequest:
    body = {"tin": _tin(setup), "period": VAT_PERIOD, "currency": _currency(setup), "sales": [], "purchases": []}
    return RegionRequest("POST", "/tax/vat-returns", body)


def amend_vat_return(setup: RegionSetup) -> RegionRequest:
    body = {"currency": _currency(setup), "sales": [], "purchases": []}
    return RegionRequest("POST", f"/tax/vat-returns/{_tin(setup)}/{VAT_PERIOD}/amendments", body)


def read_assessment(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("GET", f"/tax/assessments/{_assessment(setup)['id']}")


def read_assessments(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("GET", f"/tax/taxpayers/{_tin(setup)}/assessments")


def read_account(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("GET", f"/tax/accounts/{_tin(setup)}")


def pay(setup: RegionSetup) -> RegionRequest:
    body = {"tin": _tin(setup), "amount": 100, "currency": _currency(setup), "reference": f"PAY-{setup.serial}"}
    return RegionRequest("POST", "/tax/payments", body)


def refund(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", "/tax/refunds", {"tin": _tin(setup), "reference": f"REFUND-{setup.serial}"})


def lodge_objection(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", "/tax/objections", {"assessment_id": _assessment(setup)["id"], "grounds": "wrong"})


def read_objection(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("GET", f"/tax/objections/{_objection(setup)}")


def review_objection(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", f"/tax/objections/{_objection(setup)}/review")


def decide_objection(setup: RegionSetup) -> RegionRequest:
    objection = _objection(setup)
    reviewed = setup.client.post(f"/tax/objections/{objection}/review", headers=setup.partner)
    assert reviewed.status_code == 200, reviewed.text
    body = {"outcome": "disallowed", "note": "the income stands"}
    return RegionRequest("POST", f"/tax/objections/{objection}/decision", body)


CALLS = (
    RegionCall("POST /tax/taxpayers", OFFICER, register),
    RegionCall("GET /tax/taxpayers/{tin}", OFFICER, read_taxpayer),
    RegionCall("POST /tax/taxpayers/{tin}/status", OFFICER, change_status),
    RegionCall("POST /tax/returns", OFFICER, file_return),
    RegionCall("POST /tax/returns/{tin}/{year}/amendments", OFFICER, amend_return),
    RegionCall("POST /tax/vat-returns", OFFICER, file_vat_return),
    RegionCall("POST /tax/vat-returns/{tin}/{period}/amendments", OFFICER, amend_vat_return),
    RegionCall("GET /tax/assessments/{assessment_id}", OFFICER, read_assessment),
    RegionCall("GET /tax/taxpayers/{tin}/assessments", OFFICER, read_assessments),
    RegionCall("GET /tax/accounts/{tin}", OFFICER, read_account),
    RegionCall("POST /tax/payments", OFFICER, pay),
    RegionCall("POST /tax/refunds", OFFICER, refund),
    RegionCall("POST /tax/objections", OFFICER, lodge_objection),
    RegionCall("GET /tax/objections/{objection_id}", OBJECTIONS_OFFICER, read_objection),
    RegionCall("POST /tax/objections/{objection_id}/review", OBJECTIONS_OFFICER, review_objection),
    RegionCall("POST /tax/objections/{objection_id}/decision", OBJECTIONS_OFFICER, decide_objection),
)
