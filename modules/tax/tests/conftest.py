"""Fixtures the tax page tests share (TestClient and browser): residents registered as taxpayers by
national ID, and staff members holding several roles at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ....conftest import STAFF_PASSWORD
from ....core import staff
from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.deps import STAFF_COOKIE
from ....core.ports import SectorTokens
from ....core.registry import Ports
from ....core.settings import Settings
from .. import service
from ..parties import NewTaxpayer


@pytest.fixture
def several_roles(engine: Engine, settings: Settings) -> Callable[..., dict[str, str]]:
    """A staff member holding several roles at once (an officer who lodges and also decides); their cookies."""
    accounts = iter(range(1, 1000))

    def sign_in(*roles: str) -> dict[str, str]:
        user_name = f"tax-pages-{next(accounts)}"
        with make_session_factory(engine).begin() as session:
            account = staff.create_account(
                session=session, user_name=user_name, display_name=user_name, password=STAFF_PASSWORD
            )
            for role in roles:
                staff.grant_role(session=session, user_name=user_name, role=role)
            opened = staff.open_session(session=session, account=account, kind="cookie", settings=settings)
        return {STAFF_COOKIE: opened.token}

    return sign_in


def enrol(client: TestClient, api_headers, application: str, given_name: str) -> str:
    response = client.post(
        "/identity/enrolments",
        json={
            "application_id": application,
            "given_name": given_name,
            "family_name": "Tax-Pages",
            "date_of_birth": "1980-03-04",
            "sex": "F",
        },
        headers=api_headers("identity:enrol"),
    )
    assert response.status_code == 201, response.text
    return response.json()["national_id"]


@pytest.fixture
def residents(
    client: TestClient, session: Session, ports: Ports, country: LoadedCountry, api_headers
) -> dict[str, Any]:
    """Two residents registered as taxpayers by national ID (as the API does: the tax sector token)."""
    if ports.get(SectorTokens) is None:
        pytest.skip("residents are identified by national ID through the identity module")
    found: dict[str, Any] = {}
    for name in ("Akinyi", "Baraka"):
        national_id = enrol(client, api_headers, f"tax-pages-{name}", name)
        party = NewTaxpayer(kind="individual", name=f"{name} Tax-Pages", national_id=national_id)
        taxpayer = service.register_taxpayer(session=session, party=party, country=country, ports=ports, actor="t")
        session.commit()  # before the next enrolment writes through the API
        found[name.lower()] = {"national_id": national_id, "tin": taxpayer.tin}
    return found
