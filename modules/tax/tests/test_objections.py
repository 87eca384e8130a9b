"""Objections: the window, the states, and decisions that re-assess."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.errors import Conflict, NotFound, Unprocessable
from .. import objections, service
from ..returns import IncomeReturn
from ..scopes import DECIDE_SCOPE, FILE_SCOPE, READ_SCOPE, REGISTER_SCOPE
from .helpers import CHECKERS, LODGER, a_taxpayer, a_year, with_tax


def an_assessment(session: Session, country: LoadedCountry, external_id: str = "OBJ-1"):
    year = a_year(country)
    tin = a_taxpayer(session, country, external_id=external_id).tin
    income = service.income_tax_law(country=country).scale_in_force(year)[-1].threshold * 2
    filed = IncomeReturn(tin=tin, year=year, income=income, currency=country.profile.currency)
    return service.file_return(session=session, filed=filed, country=country, actor="t")


def test_an_allowed_objection_re_assesses_with_the_claimed_income(session: Session, country: LoadedCountry) -> None:
    assessment = an_assessment(session, country)
    objection = objections.lodge(
        session=session,
        assessment_id=assessment.id,
        grounds="double counted",
        claimed_income=0,
        country=country,
        maker=LODGER,
    )
    assert objection.state == "lodged"
    with pytest.raises(Conflict, match="still open"):
        objections.lodge(
            session=session,
            assessment_id=assessment.id,
            grounds="again",
            claimed_income=0,
            country=country,
            maker=LODGER,
        )
    with pytest.raises(Conflict, match="must be under review") as not_under_review:
        objections.decide(
            session=session,
            objection_id=objection.id,
            outcome="allowed",
            income=None,
            note="n",
            country=country,
            approver=CHECKERS[0],
            required=1,
        )
    assert not_under_review.value.field == "state"
    assert objections.review(session=session, objection_id=objection.id, actor="t").state == "under_review"
    decided = objections.decide(
        session=session,
        objection_id=objection.id,
        outcome="allowed",
        income=None,
        note="agreed",
        country=country,
        approver=CHECKERS[0],
        required=1,
    ).objection
    assert (decided.state, decided.decided_income) == ("allowed", 0)
    new = service.get_assessment(session=session, assessment_id=decided.new_assessment_id)
    assert (new.tax_due, new.state) == (0, "current")
    assert (assessment.state, assessment.superseded_by) == ("superseded", new.id)


def test_partially_allowed_and_disallowed(session: Session, country: LoadedCountry) -> None:
    assessment = an_assessment(session, country)
    objection = objections.lodge(
        session=session,
        assessment_id=assessment.id,
        grounds="too high",
        claimed_income=0,
        country=country,
        maker=LODGER,
    )
    objections.review(session=session, objection_id=objection.id, actor="t")
    with pytest.raises(Unprocessable, match="needs the income decided"):
        objections.decide(
            session=session,
            objection_id=objection.id,
            outcome="partially_allowed",
            income=None,
            note="n",
            country=country,
            approver=CHECKERS[0],
            required=1,
        )
    half = service.latest_return(session=session, tin=assessment.tin, kind="income", period=assessment.period).income
    decided = objections.decide(
        session=session,
        objection_id=objection.id,
        outcome="partially_allowed",
        income=half // 2,
        note="half",
        country=country,
        approver=CHECKERS[0],
        required=1,
    ).objection
    new = service.get_assessment(session=session, assessment_id=decided.new_assessment_id)
    assert 0 < new.tax_due < assessment.tax_due
    # A disallowed objection to the new assessment changes nothing.
    second = objections.lodge(
        session=session, assessment_id=new.id, grounds="still too high", claimed_income=0, country=country, maker=LODGER
    )
    objections.review(session=session, objection_id=second.id, actor="t")
    refused = objections.decide(
        session=session,
        objection_id=second.id,
        outcome="disallowed",
        income=None,
        note="no grounds",
        country=country,
        approver=CHECKERS[0],
        required=1,
    ).objection
    assert (refused.state, refused.new_assessment_id, new.state) == ("disallowed", None, "current")
    with pytest.raises(Conflict, match="superseded"):
        objections.lodge(
            session=session,
            assessment_id=assessment.id,
            grounds="late",
            claimed_income=0,
            country=country,
            maker=LODGER,
        )


def test_the_window_is_a_dated_parameter(session: Session, country: LoadedCountry) -> None:
    law = with_tax(
        country, objections={"window_days": [{"since": "2000-01-01", "days": 30}, {"since": "2030-01-01", "days": 60}]}
    )
    assessment = an_assessment(session, law)
    assessed_on = date.today()
    last_day = assessed_on + timedelta(days=30)
    objections.lodge(
        session=session,
        assessment_id=assessment.id,
        grounds="in time",
        claimed_income=None,
        country=law,
        maker=LODGER,
        today=last_day,
    )
    other = an_assessment(session, law, external_id="OBJ-2")
    with pytest.raises(Unprocessable, match="30-day objection window") as error:
        objections.lodge(
            session=session,
            assessment_id=other.id,
            grounds="late",
            claimed_income=None,
            country=law,
            maker=LODGER,
            today=last_day + timedelta(days=1),
        )
    assert error.value.kind == "objection-window-closed"
    rules = service.rules_for(law)
    assert rules.objection_deadline(date(2030, 1, 1)) == (date(2030, 3, 2), 60)


def test_objection_api_and_scopes(
    client: TestClient, api_headers: Callable[..., dict[str, str]], country: LoadedCountry
) -> None:
    filer = api_headers(REGISTER_SCOPE, FILE_SCOPE, READ_SCOPE)
    tin = client.post(
        "/tax/taxpayers", json={"kind": "individual", "name": "O", "external_id": "OBJ-API"}, headers=filer
    ).json()["tin"]
    year = a_year(country)
    filed = client.post(
        "/tax/returns",
        json={"tin": tin, "year": year, "income": 10**9, "currency": country.profile.currency},
        headers=filer,
    ).json()
    lodged = client.post(
        "/tax/objections", json={"assessment_id": filed["id"], "grounds": "wrong", "claimed_income": 0}, headers=filer
    )
    assert lodged.status_code == 201, lodged.text
    objection_id = lodged.json()["id"]
    assert client.post(f"/tax/objections/{objection_id}/review", headers=filer).status_code == 403
    decider = api_headers(DECIDE_SCOPE)
    assert client.post(f"/tax/objections/{objection_id}/review", headers=decider).json()["state"] == "under_review"
    for officer in (decider, api_headers(DECIDE_SCOPE)):  # four-eyes: two officers
        decided = client.post(
            f"/tax/objections/{objection_id}/decision", json={"outcome": "allowed", "note": "agreed"}, headers=officer
        )
        assert decided.status_code == 200, decided.text
    assert client.get(f"/tax/objections/{objection_id}", headers=filer).json()["state"] == "allowed"
    new = client.get(f"/tax/assessments/{decided.json()['new_assessment_id']}", headers=filer).json()
    assert new["tax_due"] == 0
    assert client.get("/tax/objections/999999", headers=filer).status_code == 404


def test_the_services_name_the_field_they_refuse(session: Session, country: LoadedCountry) -> None:
    assessment = an_assessment(session, country, external_id="OBJ-FIELD")

    def lodge(assessment_id: int) -> None:
        objections.lodge(
            session=session,
            assessment_id=assessment_id,
            grounds="w",
            claimed_income=None,
            country=country,
            maker=LODGER,
        )

    with pytest.raises(NotFound) as no_assessment:
        lodge(2**31 - 1)
    assert no_assessment.value.field == "id"
    lodge(assessment.id)
    with pytest.raises(Conflict) as still_open:
        lodge(assessment.id)
    assert still_open.value.field == "assessment_id"
