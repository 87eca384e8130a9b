"""A tax officer or objections officer granted for some regions acts only on taxpayers of those regions."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.registry import Ports
from .. import objections, service
from ..parties import NewTaxpayer
from ..returns import IncomeReturn
from .helpers import LODGER, a_year

Headers = Callable[..., dict[str, str]]


def a_taxpayer_in(session: Session, country: LoadedCountry, region: str | None, external_id: str) -> str:
    """The TIN of a taxpayer registered with an address in `region` (None: without an address)."""
    address = {} if region is None else {country.profile.address_levels[0]: region}
    party = NewTaxpayer(kind="individual", name="Test Taxpayer", external_id=external_id, address=address)
    taxpayer = service.register_taxpayer(
        session=session, party=party, country=country, ports=Ports((), None), actor="t"
    )
    session.commit()
    return taxpayer.tin


def an_objection_in(session: Session, country: LoadedCountry, region: str, external_id: str) -> int:
    tin = a_taxpayer_in(session, country, region, external_id)
    year = a_year(country)
    income = service.income_tax_law(country=country).scale_in_force(year)[-1].threshold * 2
    filed = IncomeReturn(tin=tin, year=year, income=income, currency=country.profile.currency)
    assessment = service.file_return(session=session, filed=filed, country=country, actor="t")
    objection = objections.lodge(
        session=session,
        assessment_id=assessment.id,
        grounds="wrong income",
        claimed_income=0,
        country=country,
        maker=LODGER,
    )
    session.commit()
    return objection.id


def test_registration_keeps_the_addresss_first_level_as_the_region(
    client: TestClient, api_headers: Headers, country: LoadedCountry
) -> None:
    first, *_rest = country.profile.address_levels
    body = {"kind": "business", "name": "Duka Ltd", "external_id": "BRS-1", "address": {first: "Coast"}}
    registered = client.post("/tax/taxpayers", json=body, headers=api_headers("tax:register"))
    assert registered.status_code == 201, registered.text
    assert registered.json()["region"] == "Coast"
    unknown = client.post(
        "/tax/taxpayers",
        json={**body, "external_id": "BRS-2", "address": {"planet": "Earth"}},
        headers=api_headers("tax:register"),
    )
    assert unknown.status_code == 422
    assert unknown.json()["detail"].startswith("address: unknown level(s) planet; allowed: ")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tax/taxpayers/{tin}"),
        ("GET", "/tax/taxpayers/{tin}/assessments"),
        ("GET", "/tax/accounts/{tin}"),
        ("POST", "/tax/taxpayers/{tin}/status"),
    ],
)
def test_an_officer_reaches_taxpayers_of_their_region_only(
    client: TestClient, session: Session, country: LoadedCountry, staff_headers: Headers, method: str, path: str
) -> None:
    url = path.format(tin=a_taxpayer_in(session, country, "Coast", "EXT-1"))
    body = {"status": "active"} if method == "POST" else None
    coast, capital = staff_headers("tax.officer", "Coast"), staff_headers("tax.officer", "Capital")
    assert client.request(method, url, json=body, headers=coast).status_code not in {401, 403}
    refused = client.request(method, url, json=body, headers=capital)
    assert refused.status_code == 403
    assert (
        refused.json()["detail"] == "the role 'tax.officer' is limited to Capital and does not reach the region 'Coast'"
    )


def test_a_taxpayer_without_a_region_is_reached_by_officers_granted_everywhere_only(
    client: TestClient, session: Session, country: LoadedCountry, staff_headers: Headers
) -> None:
    url = f"/tax/taxpayers/{a_taxpayer_in(session, country, None, 'EXT-1')}"
    assert client.get(url, headers=staff_headers("tax.officer", "Coast")).status_code == 403
    assert client.get(url, headers=staff_headers("tax.officer")).status_code == 200


def test_an_officer_registers_taxpayers_of_their_region_only(
    client: TestClient, country: LoadedCountry, staff_headers: Headers
) -> None:
    first, *_rest = country.profile.address_levels
    officer = staff_headers("tax.officer", "Coast")
    body = {"kind": "business", "name": "Duka Ltd", "external_id": "BRS-1"}
    assert (
        client.post("/tax/taxpayers", json={**body, "address": {first: "Capital"}}, headers=officer).status_code == 403
    )
    assert client.post("/tax/taxpayers", json=body, headers=officer).status_code == 403
    assert client.post("/tax/taxpayers", json={**body, "address": {first: "Coast"}}, headers=officer).status_code == 201


def test_the_objections_queue_of_a_regional_officer_holds_their_region_only(
    client: TestClient, session: Session, country: LoadedCountry, staff_headers: Headers
) -> None:
    coast = an_objection_in(session, country, "Coast", "EXT-1")
    capital = an_objection_in(session, country, "Capital", "EXT-2")
    officer = staff_headers("tax.objections_officer", "Coast")
    listed = client.get("/tax/objections", headers=officer).json()["items"]
    assert [item["id"] for item in listed] == [coast]
    national = client.get("/tax/objections", headers=staff_headers("tax.objections_officer")).json()["items"]
    assert [item["id"] for item in national] == [coast, capital]
    assert client.post(f"/tax/objections/{capital}/review", headers=officer).status_code == 403
    assert client.post(f"/tax/objections/{coast}/review", headers=officer).status_code == 200
