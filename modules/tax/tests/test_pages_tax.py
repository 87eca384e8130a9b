"""The tax pages: a resident files, amends and objects in the portal and downloads a PDF of an
assessment (identity installed); officers search the register, read an assessment's trace, decide
objections four-eyes and chart the assessments by bracket in the console (a tax-only stack too)."""

from __future__ import annotations

import random
import re
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....conftest import form_token
from ....core.country import LoadedCountry
from ....core.i18n import shipped_languages
from ....core.models import AuditEvent
from ....core.money import major_text
from ....core.ports import Disbursements, SectorTokens
from ....core.registry import Ports
from .. import service
from ..law import Bracket
from ..models import AccountEntry, Assessment, Objection, Taxpayer, TaxReturn
from ..parties import NewTaxpayer
from ..returns import IncomeReturn
from ..web.figures import bracket_counts, brackets_figure
from ..web.forms import major_amount
from .conftest import enrol
from .helpers import a_year

OFFICER, OBJECTIONS_OFFICER = "tax.officer", "tax.objections_officer"
TAXPAYERS, OBJECTIONS, BRACKETS = "/console/tax/taxpayers", "/console/tax/objections", "/console/tax/brackets"


# ---------------------------------------------------------------- helpers


def a_taxpayer(session: Session, country: LoadedCountry, name: str, region: str | None = None) -> Taxpayer:
    """An individual registered by external ID (no identity needed), in `region` when given."""
    address = {} if region is None else {country.profile.address_levels[0]: region}
    party = NewTaxpayer(kind="individual", name=name, external_id=f"PAGES-{name}".replace(" ", "-"), address=address)
    taxpayer = service.register_taxpayer(
        session=session, party=party, country=country, ports=Ports((), None), actor="test"
    )
    session.commit()
    return taxpayer


def assessed(session: Session, country: LoadedCountry, tin: str, income: int, year: int | None = None) -> Assessment:
    filed = IncomeReturn(tin=tin, year=year or a_year(country), income=income, currency=country.profile.currency)
    assessment = service.file_return(session=session, filed=filed, country=country, actor="test")
    session.commit()
    return assessment


def high_income(country: LoadedCountry) -> int:
    """An income reaching the top bracket of the test year's scale, with minor units in it."""
    return service.income_tax_law(country=country).scale_in_force(a_year(country))[-1].threshold * 2 + 7


def typed(country: LoadedCountry, minor: int) -> str:
    """How a person types `minor` units: major units, a decimal point, no separators."""
    return major_text(minor, country.profile.currency)


def as_staff(client: TestClient, cookies: dict[str, str], path: str = TAXPAYERS) -> str:
    """Act as this staff member from now on; the CSRF token of the console's forms."""
    client.cookies.clear()
    client.cookies.update(cookies)
    return form_token(client, path)


# ---------------------------------------------------------------- console: the register, an assessment's trace


def test_officers_search_the_register_by_tin_and_name_page_by_page(
    client: TestClient, session: Session, country: LoadedCountry, staff_cookies
) -> None:
    wanjiru = a_taxpayer(session, country, "Wanjiru Otieno")
    for number in range(51):
        a_taxpayer(session, country, f"Pager {number:02d}")
    as_staff(client, staff_cookies(OFFICER))

    by_tin = client.get(TAXPAYERS, params={"q": wanjiru.tin}).text
    assert "Wanjiru Otieno" in by_tin and "Pager" not in by_tin
    by_name = client.get(TAXPAYERS, params={"q": "otieno"}).text
    assert f'href="/console/tax/taxpayers/{wanjiru.tin}"' in by_name and "Pager" not in by_name
    assert "No taxpayer found" in client.get(TAXPAYERS, params={"q": "100%"}).text  # % is a letter, not a wildcard

    first = client.get(TAXPAYERS, params={"q": "pager"}).text
    assert len(re.findall(r"Pager \d\d", first)) == 50
    after = re.search(r'href="\?q=pager&amp;after=(\d+)"', first)
    assert after, "a next-page link keeps the search"
    second = client.get(TAXPAYERS, params={"q": "pager", "after": after.group(1)}).text
    assert re.findall(r"Pager \d\d", second) == ["Pager 50"] and "Next page" not in second


def test_the_taxpayer_and_assessment_pages_show_the_trace_the_assessment_keeps(
    client: TestClient, session: Session, country: LoadedCountry, staff_cookies
) -> None:
    taxpayer = a_taxpayer(session, country, "Trace Reader")
    assessment = assessed(session, country, taxpayer.tin, high_income(country))
    as_staff(client, staff_cookies(OFFICER))
    listed = client.get(f"{TAXPAYERS}/{taxpayer.tin}").text
    assert f'href="/console/tax/assessments/{assessment.id}"' in listed
    page = client.get(f"/console/tax/assessments/{assessment.id}")
    assert page.status_code == 200
    notes = [step["note"] for step in assessment.trace]
    assert len(notes) > 4 and all(_escaped(note) in page.text for note in notes)
    assert [step["step"] for step in assessment.trace].count("bracket") == len(
        service.income_tax_law(country=country).scale_in_force(assessment.year)
    )


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")


def test_a_region_limited_officer_reaches_their_region_only(
    client: TestClient, session: Session, country: LoadedCountry, staff_cookies
) -> None:
    here = a_taxpayer(session, country, "Here Region", region="Region-A")
    there = a_taxpayer(session, country, "There Region", region="Region-B")
    mine, theirs = (assessed(session, country, t.tin, high_income(country)) for t in (here, there))
    as_staff(client, staff_cookies(OFFICER, "Region-A"))
    listed = client.get(TAXPAYERS, params={"q": "region"}).text
    assert "Here Region" in listed and "There Region" not in listed
    assert client.get(f"{TAXPAYERS}/{here.tin}").status_code == 200
    assert client.get(f"/console/tax/assessments/{mine.id}").status_code == 200
    for path in (f"{TAXPAYERS}/{there.tin}", f"/console/tax/assessments/{theirs.id}"):
        refused = client.get(path)
        assert refused.status_code == 403 and "does not reach the region" in refused.text, path


# ---------------------------------------------------------------- console: objections, four-eyes


def test_an_objection_lodged_at_the_console_is_decided_by_two_others_and_never_its_maker(
    client: TestClient, session: Session, country: LoadedCountry, staff_cookies, several_roles
) -> None:
    taxpayer = a_taxpayer(session, country, "Objecting Taxpayer")
    assessment = assessed(session, country, taxpayer.tin, high_income(country))
    path = f"/console/tax/assessments/{assessment.id}"

    lodger = several_roles(OFFICER, OBJECTIONS_OFFICER)  # files and decides: still refused as the maker
    token = as_staff(client, lodger, path)
    refused = client.post(f"{path}/objection", data={"csrf_token": token, "grounds": ""})
    assert refused.status_code == 422 and "Grounds:" in refused.text
    lodged = client.post(
        f"{path}/objection", data={"csrf_token": token, "grounds": "income double counted"}, follow_redirects=False
    )
    assert lodged.status_code == 303, lodged.text
    objection = session.scalars(select(Objection).where(Objection.assessment_id == assessment.id)).one()
    assert lodged.headers["location"] == f"{OBJECTIONS}/{objection.id}" and objection.lodged_by.startswith("staff:")
    page = f"{OBJECTIONS}/{objection.id}"
    assert "someone else must decide it" in client.get(page).text

    first = staff_cookies(OBJECTIONS_OFFICER)
    token = as_staff(client, first, OBJECTIONS)
    assert f'href="{page}"' in client.get(OBJECTIONS).text
    assert client.post(f"{page}/review", data={"csrf_token": token}, follow_redirects=False).status_code == 303

    decided_income = high_income(country) // 2
    decision = {"outcome": "partially_allowed", "income": typed(country, decided_income), "note": "half proven"}
    token = as_staff(client, lodger, page)
    by_maker = client.post(f"{page}/decision", data={"csrf_token": token, **decision})
    assert by_maker.status_code == 403 and "approve" in by_maker.text.lower()

    token = as_staff(client, first, page)
    bad = client.post(f"{page}/decision", data={"csrf_token": token, **decision, "income": "12,5"})
    assert bad.status_code == 422 and "Income decided:" in bad.text and 'value="12,5"' in bad.text
    assert client.post(f"{page}/decision", data={"csrf_token": token, **decision}).status_code == 200
    once = client.get(page).text
    assert re.search(r"\b1 of 2 approvals\b", once)
    again = client.post(f"{page}/decision", data={"csrf_token": token, **decision})
    assert again.status_code in (403, 409) and re.search(r"\b1 of 2 approvals\b", again.text)
    session.expire_all()
    assert session.get(Objection, objection.id).state == "under_review"

    token = as_staff(client, staff_cookies(OBJECTIONS_OFFICER), page)
    done = client.post(f"{page}/decision", data={"csrf_token": token, **decision}, follow_redirects=False)
    assert done.status_code == 303
    session.expire_all()
    decided = session.get(Objection, objection.id)
    assert (decided.state, decided.decided_income) == ("partially_allowed", decided_income)
    new = session.get(Assessment, decided.new_assessment_id)
    own = service.income_tax_law(country=country).calculate(income=decided_income, year=assessment.year)
    assert new.tax_due == own.tax_due and session.get(Assessment, assessment.id).state == "superseded"
    assert f'href="/console/tax/assessments/{new.id}"' in client.get(page).text


def test_each_console_page_needs_its_scope(
    client: TestClient, session: Session, country: LoadedCountry, staff_cookies
) -> None:
    taxpayer = a_taxpayer(session, country, "Scope Check", region="Region-A")
    assessment = assessed(session, country, taxpayer.tin, high_income(country))
    token = as_staff(client, staff_cookies(OFFICER))
    assert client.get(OBJECTIONS).status_code == 403  # the queue is the objections officers' (tax:decide)
    objection_path = f"/console/tax/assessments/{assessment.id}/objection"
    client.post(objection_path, data={"csrf_token": token, "grounds": "g"}, follow_redirects=False)
    objection = session.scalars(select(Objection).where(Objection.assessment_id == assessment.id)).one()
    assert client.post(f"{OBJECTIONS}/{objection.id}/review", data={"csrf_token": token}).status_code == 403

    token = as_staff(client, staff_cookies(OBJECTIONS_OFFICER), OBJECTIONS)
    lodge = client.post(objection_path, data={"csrf_token": token, "grounds": "again"})
    assert lodge.status_code == 403  # lodging is the tax officers' (tax:file)

    token = as_staff(client, staff_cookies(OBJECTIONS_OFFICER, "Region-B"), OBJECTIONS)
    assert f"/objections/{objection.id}" not in client.get(OBJECTIONS).text
    assert client.post(f"{OBJECTIONS}/{objection.id}/review", data={"csrf_token": token}).status_code == 403
    session.expire_all()
    assert session.get(Objection, objection.id).state == "lodged"


# ---------------------------------------------------------------- console: assessments by bracket


BRACKETS_OF_TEST = (Bracket(0, Decimal("0.10")), Bracket(100, Decimal("0.25")), Bracket(200, Decimal("0.30")))


def test_an_income_counts_in_the_last_bracket_whose_threshold_it_exceeds() -> None:
    # 0: nothing taxable; 1 and 100: the first bracket (100 is not above 100); 101, 200: the second; 5000: the third.
    assert bracket_counts([0, 1, 100, 101, 200, 5000], BRACKETS_OF_TEST) == [1, 2, 2, 1]
    figure = brackets_figure([150, 150, 999], BRACKETS_OF_TEST, 2024, lambda minor: f"<{minor}>")
    assert figure.labels == ("None: nothing taxable", "10% above <0>", "25% above <100>", "30% above <200>")
    assert [s.values for s in figure.series] == [(0, 0, 2, 1)] and "2024" in figure.title


def test_the_top_bracket_counted_is_the_one_the_law_taxes_last(country: LoadedCountry) -> None:
    law = service.income_tax_law(country=country)
    year = a_year(country)
    brackets = law.scale_in_force(year)
    generator = random.Random(7)
    for income in [0, *(generator.randrange(brackets[-1].threshold * 3 + 2) for _ in range(200))]:
        calculation = law.calculate(income=income, year=year)
        taxed = [step for step in calculation.trace if step.step == "bracket"]
        counts = bracket_counts([calculation.taxable], brackets)
        assert counts.index(1) == len(taxed), income


def test_the_brackets_page_charts_the_current_assessments_of_a_year(
    client: TestClient, session: Session, country: LoadedCountry, staff_cookies
) -> None:
    year = a_year(country)
    brackets = service.income_tax_law(country=country).scale_in_force(year)
    top = a_taxpayer(session, country, "Top Bracket", region="Region-A")
    assessed(session, country, top.tin, high_income(country), year)
    amended = a_taxpayer(session, country, "Amended Down", region="Region-B")
    assessed(session, country, amended.tin, high_income(country), year)
    service.amend_return(
        session=session, tin=amended.tin, kind="income", period=str(year), income=0, country=country, actor="t"
    )
    session.commit()
    as_staff(client, staff_cookies(OFFICER))
    page = client.get(BRACKETS, params={"year": year})
    assert page.status_code == 200
    cells = [int(n) for n in re.findall(r'<td class="number">(\d+)</td>', page.text)]
    expected = [1] + [0] * (len(brackets) - 1) + [1]  # the superseded assessment is not counted
    assert cells == expected
    assert f'src="/console/tax/brackets.svg?year={year}"' in page.text
    image = client.get(f"{BRACKETS}.svg", params={"year": year})
    assert image.status_code == 200 and image.headers["content-type"].startswith("image/svg+xml")

    as_staff(client, staff_cookies(OFFICER, "Region-A"))
    regional = client.get(BRACKETS, params={"year": year}).text
    assert [int(n) for n in re.findall(r'<td class="number">(\d+)</td>', regional)] == [0] * len(brackets) + [1]
    early = client.get(BRACKETS, params={"year": 1900})
    assert early.status_code == 200 and 'role="alert"' in early.text  # no law in force then: said, not charted


# ---------------------------------------------------------------- amounts as typed


def test_amounts_are_read_by_the_currencys_rules(country: LoadedCountry) -> None:
    currency = country.profile.currency
    assert major_amount(typed(country, 123456789), currency) == 123456789
    assert major_amount("0", currency) == 0
    for refused in ("1,5", "1e3", "-1", "+1", "NaN", " ", "", "1." + "1" * 7, "9" * 21):
        assert major_amount(refused, currency) is None, refused


# ---------------------------------------------------------------- the resident's pages (identity installed)


def as_resident(client: TestClient, cookies: dict[str, str], path: str = "/me/tax/returns/new") -> str:
    client.cookies.clear()
    client.cookies.update(cookies)
    return form_token(client, path)


def test_a_resident_files_a_return_on_the_form_and_sees_the_tax_and_its_trace(
    client: TestClient, session: Session, country: LoadedCountry, residents, resident_cookies
) -> None:
    me = residents["akinyi"]
    token = as_resident(client, resident_cookies(me["national_id"]))
    form = client.get("/me/tax/returns/new").text
    for field in ("year", "income"):
        assert re.search(rf'<label for="{field}">', form) and re.search(rf'<input id="{field}" name="{field}"', form)
    year, income = a_year(country), high_income(country)

    for values, field in (({"year": str(year), "income": "12,50"}, "Income:"), ({"year": "20x5"}, "Fiscal year:")):
        refused = client.post("/me/tax/returns", data={"csrf_token": token, "income": "1", **values})
        assert refused.status_code == 422 and field in refused.text and 'role="alert"' in refused.text
    assert session.scalar(select(func.count()).select_from(TaxReturn).where(TaxReturn.tin == me["tin"])) == 0

    filed = client.post(
        "/me/tax/returns", data={"csrf_token": token, "year": str(year), "income": typed(country, income)}
    )
    assert filed.status_code == 200 and filed.url.path.startswith("/me/tax/assessments/")
    assessment = session.scalars(select(Assessment).where(Assessment.tin == me["tin"])).one()
    own = service.income_tax_law(country=country).calculate(income=income, year=year)
    assert (assessment.taxable, assessment.tax_due) == (own.taxable, own.tax_due)
    assert all(_escaped(step.note) in filed.text for step in own.trace)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "tax.assessment.issued")).all()[-1]
    assert event.actor == f"taxpayer:{me['tin']} (resident portal)" and me["national_id"] not in event.actor

    twice = client.post("/me/tax/returns", data={"csrf_token": token, "year": str(year), "income": "1"})
    assert twice.status_code == 409 and "already filed" in twice.text

    home = client.get("/me/tax").text
    assert f'href="/me/tax/returns/{year}/amendment"' in home and f'href="/me/tax/assessments/{assessment.id}"' in home
    amend_path = f"/me/tax/returns/{year}/amendment"
    assert "12,5" in client.post(amend_path, data={"csrf_token": token, "income": "12,5"}).text
    amended = client.post(amend_path, data={"csrf_token": token, "income": typed(country, income // 3)})
    assert amended.status_code == 200
    session.expire_all()
    current = session.scalars(
        select(Assessment).where(Assessment.tin == me["tin"], Assessment.state == "current")
    ).one()
    assert current.id != assessment.id and amended.url.path == f"/me/tax/assessments/{current.id}"
    assert current.tax_due == service.income_tax_law(country=country).calculate(income=income // 3, year=year).tax_due


def test_a_resident_objects_and_the_objection_reaches_the_queue(
    client: TestClient, session: Session, country: LoadedCountry, residents, resident_cookies, staff_cookies
) -> None:
    me = residents["akinyi"]
    assessment = assessed(session, country, me["tin"], high_income(country))
    path = f"/me/tax/assessments/{assessment.id}"
    token = as_resident(client, resident_cookies(me["national_id"]), path)
    bad = client.post(f"{path}/objection", data={"csrf_token": token, "grounds": "x", "claimed_income": "1e3"})
    assert bad.status_code == 422 and "The income you claim:" in bad.text
    assert session.scalar(select(func.count()).select_from(Objection)) == 0
    lodged = client.post(
        f"{path}/objection", data={"csrf_token": token, "grounds": "I was paid less", "claimed_income": "0"}
    )
    assert lodged.status_code == 200 and "I was paid less" in lodged.text
    objection = session.scalars(select(Objection).where(Objection.assessment_id == assessment.id)).one()
    assert (objection.lodged_by, objection.claimed_income) == (f"taxpayer:{me['tin']}", 0)

    as_staff(client, staff_cookies(OBJECTIONS_OFFICER), OBJECTIONS)
    assert f'href="{OBJECTIONS}/{objection.id}"' in client.get(OBJECTIONS).text


def test_a_resident_downloads_their_assessment_and_never_reaches_anothers(
    client: TestClient, session: Session, country: LoadedCountry, residents, resident_cookies
) -> None:
    mine = assessed(session, country, residents["akinyi"]["tin"], high_income(country))
    theirs = assessed(session, country, residents["baraka"]["tin"], high_income(country))
    token = as_resident(client, resident_cookies(residents["akinyi"]["national_id"]), "/me/tax")
    record = client.get(f"/me/tax/assessments/{mine.id}.pdf")
    assert record.status_code == 200 and record.content.startswith(b"%PDF")
    assert record.headers["content-type"] == "application/pdf"
    for path in (
        f"/me/tax/assessments/{theirs.id}",
        f"/me/tax/assessments/{theirs.id}.pdf",
        "/me/tax/assessments/99999",
    ):
        answer = client.get(path)
        assert answer.status_code == 404 and residents["baraka"]["tin"] not in answer.text, path
    objected = client.post(f"/me/tax/assessments/{theirs.id}/objection", data={"csrf_token": token, "grounds": "g"})
    assert objected.status_code == 404
    assert session.scalar(select(func.count()).select_from(Objection)) == 0


def test_a_resident_pays_and_is_refunded_through_the_linked_account_or_is_told_how_to_pay(
    client: TestClient, session: Session, country: LoadedCountry, ports: Ports, residents, resident_cookies, api_headers
) -> None:
    me = residents["akinyi"]
    assessment = assessed(session, country, me["tin"], high_income(country))
    token = as_resident(client, resident_cookies(me["national_id"]), "/me/tax")
    home = client.get("/me/tax").text
    if ports.get(Disbursements) is None:
        assert f"quoting your TIN {me['tin']}" in home and 'action="/me/tax/payment"' not in home
        assert client.post("/me/tax/payment", data={"csrf_token": token, "amount": "1"}).status_code in (404, 422)
        return
    linked = client.post(
        "/payments/accounts",
        json={"beneficiary": {"national_id": me["national_id"]}, "account": {"kind": "iban", "number": IBAN}},
        headers=api_headers("payments:link"),
    )
    assert linked.status_code == 201, linked.text
    reference = re.search(r'name="reference" value="([^"]+)"', home).group(1)
    due = assessment.tax_due + assessment.penalty
    pay = {"csrf_token": token, "reference": reference, "amount": typed(country, due)}
    assert client.post("/me/tax/payment", data={**pay, "amount": "-1"}).status_code == 422
    assert client.post("/me/tax/payment", data=pay, follow_redirects=False).status_code == 303
    assert client.post("/me/tax/payment", data=pay, follow_redirects=False).status_code == 303  # sent twice: paid once
    paid = session.scalars(select(AccountEntry).where(AccountEntry.tin == me["tin"], AccountEntry.kind == "paid")).all()
    assert [(e.amount, e.channel) for e in paid] == [(-due, "payments")]

    service.amend_return(
        session=session, tin=me["tin"], kind="income", period=str(assessment.year), income=0, country=country, actor="t"
    )
    session.commit()
    home = client.get("/me/tax").text
    assert "You have a credit of" in home
    reference = re.search(r'action="/me/tax/refund">.*?name="reference" value="([^"]+)"', home, re.S).group(1)
    refunded = client.post("/me/tax/refund", data={"csrf_token": token, "reference": reference}, follow_redirects=False)
    assert refunded.status_code == 303
    entry = session.scalars(
        select(AccountEntry).where(AccountEntry.tin == me["tin"], AccountEntry.kind == "refunded")
    ).one()
    assert entry.amount > 0 and entry.channel == "payments"


IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.mark.selection  # needs identity's residents
def test_a_resident_who_is_no_taxpayer_is_told_so(
    client: TestClient, api_headers, ports: Ports, resident_cookies
) -> None:
    if ports.get(SectorTokens) is None:
        pytest.skip("residents are identified by national ID through the identity module")
    national_id = enrol(client, api_headers, "tax-pages-none", "Chebet")
    client.cookies.update(resident_cookies(national_id))
    page = client.get("/me/tax")
    assert page.status_code == 200 and "You are not registered as a taxpayer" in page.text
    assert client.get("/me/tax/returns/new").status_code == 404


def test_the_console_pages_speak_every_shipped_language(
    client: TestClient, session: Session, country: LoadedCountry, staff_cookies, several_roles
) -> None:
    taxpayer = a_taxpayer(session, country, "Many Languages")
    assessment = assessed(session, country, taxpayer.tin, high_income(country))
    token = as_staff(client, several_roles(OFFICER, OBJECTIONS_OFFICER), f"/console/tax/assessments/{assessment.id}")
    client.post(f"/console/tax/assessments/{assessment.id}/objection", data={"csrf_token": token, "grounds": "g"})
    objection = session.scalars(select(Objection).where(Objection.assessment_id == assessment.id)).one()
    pages = [
        TAXPAYERS,
        f"{TAXPAYERS}/{taxpayer.tin}",
        f"/console/tax/assessments/{assessment.id}",
        OBJECTIONS,
        f"{OBJECTIONS}/{objection.id}",
        BRACKETS,
    ]
    for language in shipped_languages():
        for path in pages:
            page = client.get(path, headers={"Accept-Language": language})
            assert page.status_code == 200 and f'lang="{language}' in page.text, (language, path)
