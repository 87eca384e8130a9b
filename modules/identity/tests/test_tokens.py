from datetime import date

import pytest
from sqlalchemy.orm import Session

from ....core.errors import Conflict, NotFound
from ....core.ports import SectorTokens
from ....core.registry import Ports
from ..idnumbers import InvalidNationalId
from ..models import Person, PersonStatus
from ..tokens import sector_token


def add_person(session: Session, national_id: str, status: str = PersonStatus.ACTIVE) -> None:
    session.add(
        Person(
            national_id=national_id,
            given_name="A",
            family_name="B",
            name_key="a b",
            date_of_birth=date(1980, 1, 1),
            sex="F",
            address={},
            status=status,
        )
    )
    session.flush()


def test_identity_provides_sector_tokens(ports: Ports, session: Session) -> None:
    tokens = ports.get(SectorTokens)
    assert tokens is not None
    add_person(session, "6497869071")
    payments = tokens.token_for(session=session, national_id="6497869071", sector="payments")
    tax = tokens.token_for(session=session, national_id="6497869071", sector="tax")
    assert payments != tax
    assert "6497869071" not in payments
    assert payments == tokens.token_for(session=session, national_id="6497869071", sector="payments")


def test_tokens_depend_on_the_secret() -> None:
    assert sector_token(secret="a" * 16, national_id="1", sector="s") != sector_token(
        secret="b" * 16, national_id="1", sector="s"
    )


def test_unknown_or_inactive_person_gets_no_token(ports: Ports, session: Session) -> None:
    tokens = ports.get(SectorTokens)
    assert tokens is not None
    with pytest.raises(NotFound):
        tokens.token_for(session=session, national_id="6497869071", sector="payments")
    add_person(session, "6497869071", status=PersonStatus.DECEASED)
    with pytest.raises(Conflict, match="deceased"):
        tokens.token_for(session=session, national_id="6497869071", sector="payments")


def test_malformed_ids_are_refused_before_lookup(ports: Ports, session: Session) -> None:
    tokens = ports.get(SectorTokens)
    assert tokens is not None
    for bad in ["\x00", "12ab", "1" * 21]:
        with pytest.raises(InvalidNationalId):
            tokens.token_for(session=session, national_id=bad, sector="tax")
