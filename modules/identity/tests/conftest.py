from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from ....conftest import PROJECT_ROOT, TEST_SECRET
from ....core.db import make_session_factory
from ....core.security import issue_partner_key
from ..dci_router import NOTIFY_SCOPE
from ..notifier import latest_message
from ..notifier import read as open_message
from ..policies import set_policy

# Test data follows the deployment's own country profile, so the suite passes for every country.
PROFILE = yaml.safe_load((PROJECT_ROOT / "country.yml").read_text(encoding="utf-8"))
LEVELS: list[str] = PROFILE["address_levels"]
ADDRESS = {LEVELS[0]: "Capital"}


def mobile_number(variant: int) -> phonenumbers.PhoneNumber:
    """A valid mobile number of the profile's region (its example number with the last digit varied)."""
    example = phonenumbers.example_number_for_type(PROFILE["phone_region"], phonenumbers.PhoneNumberType.MOBILE)
    digits = phonenumbers.national_significant_number(example)
    varied = digits[:-1] + str((int(digits[-1]) + variant) % 10)
    return phonenumbers.parse(f"+{example.country_code}{varied}")


PHONE = phonenumbers.format_number(mobile_number(0), phonenumbers.PhoneNumberFormat.E164)
OTHER_PHONE = mobile_number(1)


@dataclass
class Relying:
    id: int
    headers: dict[str, str]


@pytest.fixture
def relying_party(engine: Engine) -> Callable[..., Relying]:
    """A partner with scopes and (when given) an identity policy."""

    def make(
        *scopes: str, auth_types: tuple[str, ...] | None = None, ekyc: tuple[str, ...] = (), name: str = "Bank"
    ) -> Relying:
        with make_session_factory(engine).begin() as session:
            issued = issue_partner_key(session=session, name=name, scopes=scopes)
            if auth_types is not None:
                set_policy(
                    session=session,
                    partner_id=issued.partner.id,
                    auth_types=list(auth_types),
                    ekyc_attributes=list(ekyc),
                    actor="test",
                )
            return Relying(id=issued.partner.id, headers={"X-API-Key": issued.key})

    return make


@pytest.fixture
def civil_registry(relying_party: Callable[..., Relying]) -> Relying:
    """The partner a civil registry posts its DCI callbacks and notifications with."""
    return relying_party(NOTIFY_SCOPE, name="Civil registry")


@pytest.fixture
def enrolled(client: TestClient, api_headers: Callable[..., dict[str, str]]) -> Callable[..., str]:
    """Enrol a resident through the API and return the national ID."""
    headers = api_headers("identity:enrol")
    counter = iter(range(10_000))

    def enrol(**changes: object) -> str:
        body = {
            "application_id": f"test-{next(counter):08d}",
            "given_name": "Amina",
            "family_name": "Wanjiru",
            "date_of_birth": "1985-04-12",
            "sex": "F",
            "phone": PHONE,
            "address": ADDRESS,
        }
        body.update(changes)
        response = client.post("/identity/enrolments", json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()["national_id"]

    return enrol


@pytest.fixture
def read_otp(engine: Engine) -> Callable[[str], str]:
    """The code in the latest outbox message to a phone (opened as the delivering side would)."""

    def read(phone: str = PHONE) -> str:
        with make_session_factory(engine)() as session:
            message = latest_message(session=session, recipient=phone)
            assert message is not None, f"no message to {phone}"
            return open_message(message, secret=TEST_SECRET).split()[0]

    return read
