"""Payments' part of the whole journey (core tests/journeys.py): link an account, build, approve and pay a cycle.

The beneficiary is the resident identity enrolled when it is installed, else an external ID.
"""

from __future__ import annotations

from typing import Any

from ....tests.journeys import Journey, Partner
from ..scopes import APPROVE_SCOPE, LINK_SCOPE, PROGRAMME_SCOPE, READ_SCOPE, TRANSFER_SCOPE
from .conftest import VALID_IBAN

PROGRAMME = "JOURNEY-CASH"


def run(journey: Journey) -> None:
    national_id = journey.facts.get("national_id")
    beneficiary = {"national_id": national_id} if national_id else {"external_id": "JOURNEY-BENEFICIARY-1"}
    maker = journey.partner(LINK_SCOPE, READ_SCOPE, TRANSFER_SCOPE, PROGRAMME_SCOPE)
    checkers = [journey.partner(APPROVE_SCOPE, READ_SCOPE) for _ in range(2)]
    account = {"kind": "iban", "number": VALID_IBAN}
    journey.call(
        "POST", "/payments/accounts", json={"beneficiary": beneficiary, "account": account}, headers=maker.headers
    )
    journey.personal |= {VALID_IBAN, VALID_IBAN.replace(" ", "")}

    programme = {
        "code": PROGRAMME,
        "name": "Journey cash transfer",
        "currency": journey.runtime.country.profile.currency,
        "source": "enrolled",
        "eligibility": [{"attribute": "age", "op": ">=", "value": 18}],
        "entitlement": {"flat": 5_000},
    }
    journey.call("POST", "/payments/programmes", json=programme, headers=maker.headers)
    items = {"items": [{"beneficiary": beneficiary, "attributes": {"age": 41}}]}
    journey.call("POST", f"/payments/programmes/{PROGRAMME}/enrolments", json=items, headers=maker.headers)
    cycle = approved_cycle(journey, maker, checkers, "journey-1")
    paid = journey.call("POST", f"/payments/cycles/{cycle['id']}/disburse", headers=maker.headers)
    assert paid["paid"]["count"] == 1, paid
    # The next cycle is paid by the CLI, whose JSON lines (payments.chunk.done) go to its stderr.
    second = approved_cycle(journey, maker, checkers, "journey-2")
    journey.cli("payments", "disburse", "--cycle", str(second["id"]), "--quiet")
    assert '"event": "payments.chunk.done"' in journey.log.read_text(encoding="utf-8")
    journey.cli("payments", "reconcile", "--cycle", str(cycle["id"]))
    journey.events.add("payments.chunk.done")
    journey.moves |= {
        f'nation_stack_payments_payouts_total{{cycle="{cycle["id"]}"}}',
        'nation_stack_payments_chunk_duration_seconds_count{step="ledger"}',
        'nation_stack_payments_chunk_duration_seconds_count{step="bank"}',
    }


def approved_cycle(journey: Journey, maker: Partner, checkers: list[Partner], name: str) -> dict[str, Any]:
    """A cycle of the journey's programme, built by the maker and approved blind by both checkers."""
    cycle = journey.call("POST", f"/payments/programmes/{PROGRAMME}/cycles", json={"name": name}, headers=maker.headers)
    totals = {"control_count": cycle["instruction_count"], "control_sum": cycle["instruction_sum"]}
    assert totals["control_count"] == 1, cycle
    for checker in checkers:
        journey.call("POST", f"/payments/cycles/{cycle['id']}/approve", json=totals, headers=checker.headers)
    return cycle
