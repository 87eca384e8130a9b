"""Identity's part of the whole journey (core tests/journeys.py): enrol, then authenticate with an OTP."""

from __future__ import annotations

import phonenumbers

from ....conftest import TEST_SECRET
from ....core.db import make_session_factory
from ....tests.journeys import Journey
from ..notifier import latest_message
from ..notifier import read as open_message
from .conftest import ADDRESS, PHONE

# Names found in no log line by chance: the test searches the output for them.
GIVEN_NAME, FAMILY_NAME = "Zephyrine", "Quillbrook"


def run(journey: Journey) -> None:
    clerk = journey.partner("identity:enrol")
    enrolment = {
        "application_id": "journey-0001",
        "given_name": GIVEN_NAME,
        "family_name": FAMILY_NAME,
        "date_of_birth": "1984-03-09",
        "sex": "F",
        "phone": PHONE,
        "address": ADDRESS,
    }
    national_id = journey.call("POST", "/identity/enrolments", json=enrolment, headers=clerk.headers)["national_id"]
    journey.facts["national_id"] = national_id
    journey.facts["name"] = f"{GIVEN_NAME} {FAMILY_NAME}"
    national_number = phonenumbers.national_significant_number(phonenumbers.parse(PHONE))
    journey.personal |= {national_id, GIVEN_NAME, FAMILY_NAME, PHONE, national_number}

    bank = journey.partner("identity:auth")
    journey.cli("identity", "policy", "--partner-id", str(bank.id), "--auth", "demo", "--auth", "otp")
    asked = {"transaction_id": "journey-txn-0001", "individual_id": national_id, "consent": True}
    journey.call("POST", "/identity/otp", json=asked, headers=bank.headers)
    with make_session_factory(journey.engine)() as session:
        message = latest_message(session=session, recipient=PHONE)
        assert message is not None, "no OTP in the outbox"
        code = open_message(message, secret=TEST_SECRET).split()[0]
    journey.codes.add(code)
    mismatch = {**asked, "demographics": {"given_name": "Nobody"}}
    assert not journey.call("POST", "/identity/auth", json=mismatch, headers=bank.headers)["authenticated"]
    proved = journey.call("POST", "/identity/auth", json={**asked, "otp": code}, headers=bank.headers)
    assert proved["authenticated"], proved
    journey.events |= {"identity.enrolment", "identity.authentication"}
    journey.moves |= {
        'nation_stack_identity_enrolments_total{outcome="issued"}',
        'nation_stack_identity_authentications_total{outcome="success"}',
        'nation_stack_identity_authentications_total{outcome="no_match"}',
        "nation_stack_identity_outbox_depth",
    }
