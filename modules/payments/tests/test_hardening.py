"""Issue 13 (outside security review): no national ID in a URL, bank messages held to ISO 20022, concurrent
starts of a cycle, no amount or total the database cannot hold, no control character in any text."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ....cli import app as stack_cli
from ....conftest import PROJECT_ROOT
from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.eligibility import ATTRIBUTE_PATTERN
from ....core.ports import SectorTokens
from ....core.registry import Ports, installed_modules
from ....core.runtime import build_runtime
from ....core.settings import Settings
from .. import cli, cycles, iso20022, reconciliations
from ..models import BankMessage, Cycle, Programme, Transfer
from ..schemas import (
    BANK_ACCOUNT_PATTERN,
    BANK_CODE_PATTERN,
    EXTERNAL_ID_PATTERN,
    MAX_AMOUNT,
    NATIONAL_ID_PATTERN,
    PROGRAMME_CODE_PATTERN,
    REFERENCE_PATTERN,
)
from .conftest import assert_problem, enrol_person
from .factories import all_at_once, approved_cycle, assert_paid_exactly_once, enrolled_programme
from .test_crash import _disburse, _environment

pytestmark = pytest.mark.country_independent  # input hardening and lock-outs are the same in every country

XML = {"content-type": "application/xml"}

# ---------------------------------------------------------------- 2: national IDs never in URLs


def test_no_payments_route_takes_a_beneficiary_in_the_url(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        if not path.startswith("/payments"):
            continue
        for method, operation in operations.items():
            outside_body = {p["name"] for p in operation.get("parameters", []) if p["in"] != "header"}
            assert not outside_body & {"national_id", "external_id"}, (method, path)


def test_balance_resolve_and_resident_view_take_the_beneficiary_in_the_body(
    client: TestClient, headers: dict[str, str], link, pay
) -> None:
    assert link("EXT-1").status_code == 201
    assert pay().status_code == 201
    who = {"beneficiary": {"external_id": "EXT-1"}}
    balance = client.post("/payments/balances/query", json=who, headers=headers)
    assert balance.status_code == 200, balance.text
    assert balance.json()["balance"] == 12_345
    mine = client.post("/payments/residents/payments/query", json=who, headers=headers)
    assert mine.status_code == 200, mine.text
    resolved = client.post("/payments/accounts/resolve", json={"items": [who["beneficiary"]]}, headers=headers)
    assert resolved.json()["items"][0]["status"] == "found"
    # the query-string forms are gone
    for path in ("/payments/balances", "/payments/accounts/resolve", "/payments/residents/payments"):
        assert client.get(path, params={"external_id": "EXT-1"}, headers=headers).status_code in (404, 405), path


@pytest.mark.selection  # partners present or absent change what it checks
def test_a_national_id_is_looked_up_from_the_body(client: TestClient, api_headers, headers, link, ports) -> None:
    if ports.get(SectorTokens) is None:
        pytest.skip("needs the identity module")
    national_id = enrol_person(client, api_headers)
    assert link(national_id=national_id).status_code == 201
    who = {"beneficiary": {"national_id": national_id}}
    balance = client.post("/payments/balances/query", json=who, headers=headers)
    assert balance.status_code == 200, balance.text
    assert client.post("/payments/residents/payments/query", json=who, headers=headers).json() == []


# ---------------------------------------------------------------- 6/12: text is Line/Text, constraints stated


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/payments/transfers/abc%00def"),
        ("GET", "/payments/programmes/AB%00C"),
        ("GET", "/payments/transfers/abc%C2%85def"),
    ],
)
def test_control_characters_in_a_path_are_refused(client: TestClient, headers, method: str, url: str) -> None:
    assert_problem(client.request(method, url, headers=headers), 422)


def test_control_characters_in_a_body_are_refused(client: TestClient, headers, country) -> None:
    account = {"kind": "iban", "number": "DE89370400440532013000\x00"}
    linked = client.post(
        "/payments/accounts", json={"beneficiary": {"external_id": "X-1"}, "account": account}, headers=headers
    )
    assert_problem(linked, 422, "control characters")
    programme = {
        "code": "CTRL",
        "name": "Nul\x00programme",
        "currency": country.profile.currency,
        "source": "enrolled",
        "entitlement": {"flat": 1},
    }
    assert_problem(client.post("/payments/programmes", json=programme, headers=headers), 422, "control characters")
    programme |= {"name": "fine", "eligibility": [{"attribute": "region", "op": "==", "value": "N\x00"}]}
    assert_problem(client.post("/payments/programmes", json=programme, headers=headers), 422, "control characters")
    programme |= {"eligibility": []}
    assert client.post("/payments/programmes", json=programme, headers=headers).status_code == 201
    item = {"beneficiary": {"external_id": "X-1"}, "attributes": {"region": "N\x00"}}
    enrolled = client.post("/payments/programmes/CTRL/enrolments", json={"items": [item]}, headers=headers)
    assert_problem(enrolled, 422, "control characters")


def _strings(schema: Any, components: dict[str, Any], where: str, seen: set[str]) -> Iterator[tuple[str, dict]]:
    """Every string schema reachable from `schema`, with where it is."""
    if isinstance(schema, list):
        for i, part in enumerate(schema):
            yield from _strings(part, components, f"{where}[{i}]", seen)
        return
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from _strings(components[name], components, name, seen)
        return
    if schema.get("type") == "string":
        yield where, schema
    for key, value in schema.items():
        if key == "properties":
            for name, part in value.items():
                yield from _strings(part, components, f"{where}.{name}", seen)
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "propertyNames"):
            yield from _strings(value, components, f"{where}.{key}", seen)


@pytest.mark.selection  # partners present or absent change what it checks
def test_every_text_the_api_accepts_states_its_constraints(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    components = document["components"]["schemas"]
    loose = []
    for path, operations in document["paths"].items():
        if not path.startswith("/payments"):
            continue
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header":
                    continue
                for where, schema in _strings(parameter["schema"], components, parameter["name"], set()):
                    if not ({"pattern", "enum", "const", "format"} & schema.keys()):
                        loose.append(f"{method} {path} {where}")
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if content:
                for where, schema in _strings(content["schema"], components, "body", set()):
                    if not ({"pattern", "enum", "const", "format"} & schema.keys()):
                        loose.append(f"{method} {path} {where}")
    assert not loose, loose
    # the pattern stated is the one enforced, not only the generic one of Line
    beneficiary = components["BeneficiaryRef"]["properties"]
    national_id = beneficiary["national_id"]
    assert national_id["format"] == "national-id" and "check digit" in national_id["description"]
    assert national_id["pattern"] == NATIONAL_ID_PATTERN
    assert beneficiary["external_id"]["pattern"] == EXTERNAL_ID_PATTERN
    # exactly one of them, neither null: as the server checks
    by_national_id, by_external_id = components["BeneficiaryRef"]["oneOf"]
    assert by_external_id == {"required": ["external_id"], "not": {"required": ["national_id"]}}
    if any(SectorTokens in module.provides for module in installed_modules()):
        assert by_national_id == {"required": ["national_id"], "not": {"required": ["external_id"]}}
    else:  # no module keeps national IDs: the branch accepts nothing
        assert by_national_id == {"required": ["national_id"], "not": {}}
    assert components["BankAccount"]["properties"]["bank_code"]["pattern"] == BANK_CODE_PATTERN
    assert components["BankAccount"]["properties"]["number"]["pattern"] == BANK_ACCOUNT_PATTERN
    assert components["IbanAccount"]["properties"]["bank_code"]["anyOf"][0]["pattern"] == BANK_CODE_PATTERN
    assert components["Rule"]["properties"]["attribute"]["pattern"] == ATTRIBUTE_PATTERN
    attributes = components["EnrolmentItem"]["properties"]["attributes"]
    assert list(attributes["patternProperties"]) == [ATTRIBUTE_PATTERN]
    text_value = next(v for v in attributes["patternProperties"][ATTRIBUTE_PATTERN]["anyOf"] if v["type"] == "string")
    assert text_value["maxLength"] == 100
    paths = document["paths"]
    (code,) = paths["/payments/programmes/{code}"]["get"]["parameters"]
    assert code["schema"]["pattern"] == PROGRAMME_CODE_PATTERN
    (reference,) = paths["/payments/transfers/{client_reference}"]["get"]["parameters"]
    assert reference["schema"]["pattern"] == REFERENCE_PATTERN


# ---------------------------------------------------------------- 7: bank messages held to ISO 20022


def _pain002(msg_id: str, e2e: str = "G2P-NONE-1") -> bytes:
    return iso20022.pain002(
        msg_id=msg_id, original_msg_id="G2P-1-0-0", statuses=[iso20022.TransactionStatus(e2e, "ACSC", None)]
    )


def test_an_over_long_msg_id_is_refused_naming_the_field(client: TestClient, headers) -> None:
    long = "M" * 36
    for _attempt in range(2):  # the replay too: refused the same way, never a 500
        assert_problem(
            client.post("/payments/bank-messages", content=_pain002(long), headers=headers | XML), 422, "MsgId", "35"
        )
    # two messages that share their first 35 characters are two messages
    first, second = "A" * 34 + "1", "A" * 34 + "2"
    for msg_id in (first, second):
        answer = client.post("/payments/bank-messages", content=_pain002(msg_id), headers=headers | XML)
        assert answer.status_code == 200 and answer.json()["msg_id"] == msg_id and not answer.json()["replayed"]
    again = client.post("/payments/bank-messages", content=_pain002(second), headers=headers | XML)
    assert again.status_code == 200 and again.json()["replayed"]


def test_over_long_references_are_refused_naming_the_field(client: TestClient, headers, country) -> None:
    pain = _pain002("OK-1", e2e="E" * 36)
    assert_problem(client.post("/payments/bank-messages", content=pain, headers=headers | XML), 422, "OrgnlEndToEndId")
    camt = iso20022.camt054(
        msg_id="OK-2",
        account="X",
        currency=country.profile.currency,
        bookings=[iso20022.Booking("E" * 36, 100, country.profile.currency, credit=True, booked=True)],
    )
    assert_problem(client.post("/payments/bank-messages", content=camt, headers=headers | XML), 422, "EndToEndId")
    # by the tree too (a layout other than ours)
    spaced = pain.replace(b"<TxSts>", b"\n<TxSts>")
    assert_problem(
        client.post("/payments/bank-messages", content=spaced, headers=headers | XML), 422, "OrgnlEndToEndId"
    )


@pytest.mark.parametrize(
    "doctype",
    [
        b'<!DOCTYPE Document [<!ENTITY leak "secret">]>',
        b'<!DOCTYPE Document SYSTEM "file:///etc/passwd">',
        b"<!DOCTYPE Document>",
    ],
)
def test_a_document_type_declaration_is_refused(client: TestClient, headers, session: Session, doctype: bytes) -> None:
    message = _pain002("P2-&leak;").replace(b"&amp;leak;", b"&leak;")  # an entity reference, as sent
    declaration, rest = message.split(b"?>", 1)
    message = declaration + b"?>" + doctype + rest
    assert_problem(client.post("/payments/bank-messages", content=message, headers=headers | XML), 422, "DOCTYPE")
    assert session.scalar(select(func.count()).select_from(BankMessage)) == 0


# ---------------------------------------------------------------- 9: no amount or total overflows


def test_a_cycle_whose_total_is_too_large_is_refused(
    client: TestClient, headers, session: Session, ports: Ports, country: LoadedCountry
) -> None:
    programme = enrolled_programme(session, ports, country, count=1300)  # ~1170 eligible adults
    session.execute(update(Programme).values(entitlement={"flat": MAX_AMOUNT}))
    session.commit()
    answer = client.post(f"/payments/programmes/{programme.code}/cycles", json={"name": "huge"}, headers=headers)
    assert_problem(answer, 422, "too large")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Cycle)) == 0


def test_a_bank_message_whose_total_is_too_large_is_refused(client: TestClient, headers, country) -> None:
    currency = country.profile.currency
    one = iso20022.Booking("UNKNOWN-1", MAX_AMOUNT + 1, currency, credit=True, booked=True)
    camt = iso20022.camt054(msg_id="BIG-1", account="X", currency=currency, bookings=[one])
    assert_problem(client.post("/payments/bank-messages", content=camt, headers=headers | XML), 422, "Amt")
    many = [iso20022.Booking(f"UNKNOWN-{i}", MAX_AMOUNT, currency, credit=True, booked=True) for i in range(1100)]
    camt = iso20022.camt054(msg_id="BIG-2", account="X", currency=currency, bookings=many)
    assert_problem(client.post("/payments/bank-messages", content=camt, headers=headers | XML), 422, "too large")


def test_amounts_state_their_maximum(client: TestClient) -> None:
    components = client.get("/openapi.json").json()["components"]["schemas"]
    assert components["TransferRequest"]["properties"]["amount"]["maximum"] == MAX_AMOUNT
    assert components["ApproveIn"]["properties"]["control_sum"]["maximum"] == MAX_AMOUNT
    assert components["Entitlement"]["properties"]["flat"]["maximum"] == MAX_AMOUNT


# ---------------------------------------------------------------- 8: concurrent starts


def _funding_transfers(session: Session, cycle_id: int) -> list[int]:
    reference = f"{cycles.E2E_PREFIX}{cycle_id}-FUND"
    return list(session.scalars(select(Transfer.amount).where(Transfer.client_reference == reference)))


@pytest.mark.parametrize("attempt", range(4))
def test_concurrent_api_starts_of_a_cycle_all_succeed_and_pay_once(
    client: TestClient, headers, session: Session, ports: Ports, country: LoadedCountry, attempt: int
) -> None:
    cycle = approved_cycle(session, ports, country, count=120, chunk_size=16, code=f"RACE-{attempt}")
    session.commit()
    url = f"/payments/cycles/{cycle.id}/disburse"
    answers = all_at_once([lambda: client.post(url, headers=headers)] * 6)
    statuses = Counter(a.status_code if not isinstance(a, Exception) else repr(a) for a in answers)
    assert set(statuses) == {200}, statuses
    session.expire_all()
    assert _funding_transfers(session, cycle.id) == [cycle.instruction_sum]
    # whoever ran out of chunks to claim answered an honest partial report; one more start finishes it
    assert client.post(url, headers=headers).json()["state"] == "disbursed"
    session.expire_all()
    assert_paid_exactly_once(session, cycle.id)


@pytest.mark.parametrize("attempt", range(4))
def test_concurrent_starts_fund_a_cycle_once(
    engine, session: Session, ports: Ports, country: LoadedCountry, attempt: int
) -> None:
    """What two `payments disburse` commands do first: start the same cycle, each in its own transaction."""
    cycle = approved_cycle(session, ports, country, count=20, code=f"CLI-{attempt}")
    session.commit()
    factory = make_session_factory(engine)

    def start() -> str:
        with factory.begin() as own:
            found = cycles.get_cycle(session=own, cycle_id=cycle.id)
            cycles.start_disbursement(session=own, cycle=found, currency=country.profile.currency, actor="cli")
        return "ok"

    results = all_at_once([start] * 6)
    assert results == ["ok"] * 6, results
    session.expire_all()
    assert _funding_transfers(session, cycle.id) == [cycle.instruction_sum]
    assert session.get(Cycle, cycle.id).state == "disbursing"


@pytest.mark.parametrize("attempt", range(3))
def test_two_disburse_commands_at_once_both_succeed(
    session: Session, ports: Ports, country: LoadedCountry, settings: Settings, attempt: int
) -> None:
    """Two `payments disburse` processes started together on one cycle: both exit 0, the cycle is funded once."""
    cycle = approved_cycle(session, ports, country, count=400, chunk_size=20, code=f"TWO-{attempt}")
    session.commit()
    env = _environment(settings, PAYMENTS_SIMULATED_FAILURE_RATE="0")
    commands = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            _disburse(cycle.id), cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _command in range(2)
    ]
    outcomes = [command.communicate(timeout=300) for command in commands]
    for command, (_out, err) in zip(commands, outcomes, strict=True):
        assert command.returncode == 0, err
        assert "Traceback" not in err, err
    session.expire_all()
    assert _funding_transfers(session, cycle.id) == [cycle.instruction_sum]
    assert_paid_exactly_once(session, cycle.id)
    assert reconciliations.reconcile(session=session, cycle_id=cycle.id).matches_control_totals


def test_the_new_problems_are_translated(client: TestClient, headers) -> None:
    french = headers | XML | {"Accept-Language": "fr"}
    answer = client.post("/payments/bank-messages", content=_pain002("M" * 36), headers=french)
    assert_problem(answer, 422, "GrpHdr/MsgId", "ISO 20022 en autorise au plus 35")
    doctype = _pain002("P2-1").replace(b"?>", b"?><!DOCTYPE Document>", 1)
    assert_problem(client.post("/payments/bank-messages", content=doctype, headers=french), 422, "DOCTYPE", "interdite")


def test_commands_refuse_bad_text_without_a_traceback(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setattr(cli, "build_runtime", lambda: build_runtime(settings))
    monkeypatch.setenv("NATION_STACK_LOCALE", "en")
    runner = CliRunner()
    for arguments in (
        ["payments", "cycle", "--programme", "AB\x00C", "--name", "c1"],
        ["payments", "enrol", "--programme", "AB\x00C", "--csv", str(tmp_path / "none.csv")],
    ):
        (tmp_path / "none.csv").write_text("external_id,age\nE-1,30\n", encoding="utf-8")
        result = runner.invoke(stack_cli, arguments, catch_exceptions=False)
        assert result.exit_code == 1, result.output
        assert "no programme" in result.output
    long = tmp_path / "long.xml"
    long.write_bytes(_pain002("M" * 36))
    result = runner.invoke(stack_cli, ["payments", "ingest", str(long)], catch_exceptions=False)
    assert result.exit_code == 1 and "GrpHdr/MsgId" in result.output, result.output
    bad_name = runner.invoke(
        stack_cli, ["payments", "cycle", "--programme", "P", "--name", "c\x00"], catch_exceptions=False
    )
    assert bad_name.exit_code == 1 and "name" in bad_name.output, bad_name.output
    too_much = ["payments", "stimulus", "--amount", str(MAX_AMOUNT + 1), "--year", "2025"]
    result = runner.invoke(stack_cli, too_much, catch_exceptions=False)
    assert result.exit_code == 1 and "flat" in result.output, result.output
