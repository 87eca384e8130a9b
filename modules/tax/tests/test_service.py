"""Service behaviour that does not depend on which other modules are installed."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from ....core.country import LoadedCountry
from ....core.errors import Conflict, Unprocessable
from ....core.ports import SectorTokens
from ....core.registry import Ports
from ....core.settings import Settings
from .. import service
from ..parties import NewTaxpayer


class FakeTokens:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def token_for(self, *, session: Session, national_id: str, sector: str) -> str:
        self.calls.append((national_id, sector))
        return f"tok{national_id[::-1]}"


class FakePorts:
    def __init__(self, tokens: FakeTokens) -> None:
        self.tokens = tokens

    def get(self, port: type) -> object | None:
        return self.tokens if port is SectorTokens else None


def individual(national_id: str) -> NewTaxpayer:
    return NewTaxpayer(kind="individual", name="Kenji Sato", national_id=national_id)


def test_a_national_id_is_stored_as_the_tax_sector_token(session: Session, country: LoadedCountry) -> None:
    tokens = FakeTokens()
    ports = FakePorts(tokens)
    taxpayer = service.register_taxpayer(
        session=session, party=individual("2934567891"), country=country, ports=ports, actor="test"
    )
    assert taxpayer.reference == "token:tok1987654392"
    assert tokens.calls == [("2934567891", "tax")]
    assert "2934567891" not in taxpayer.reference
    with pytest.raises(Conflict, match=taxpayer.tin):
        service.register_taxpayer(
            session=session, party=individual("2934567891"), country=country, ports=ports, actor="test"
        )


def test_without_an_identity_registry_a_national_id_is_refused(
    session: Session, country: LoadedCountry, settings: Settings
) -> None:
    with pytest.raises(Unprocessable, match="register with external_id") as error:
        service.register_taxpayer(
            session=session, party=individual("2934567891"), country=country, ports=Ports((), settings), actor="t"
        )
    assert error.value.kind == "identity-not-installed"


@pytest.mark.parametrize(
    ("kind", "identifiers", "field"),
    [
        ("business", {"national_id": "2934567891", "external_id": "C-1"}, "national_id: "),
        ("business", {}, "external_id: "),
        ("individual", {}, ""),
    ],
)
def test_a_party_that_does_not_identify_itself_is_a_domain_problem_naming_the_field(
    kind: str, identifiers: dict[str, str], field: str
) -> None:
    with pytest.raises(Unprocessable) as refused:
        NewTaxpayer(kind=kind, name="Acme", **identifiers)
    assert refused.value.detail.startswith(field)
    assert "registers with" in refused.value.detail or "registration number" in refused.value.detail
