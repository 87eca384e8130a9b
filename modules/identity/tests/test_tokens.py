from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.errors import Conflict, NotFound, Problem
from ....core.models import AuditEvent, utcnow
from ....core.ports import SectorTokens
from ....core.registry import Ports
from .. import idnumbers, vids
from ..config import IdentitySettings
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


def test_a_vid_gives_its_persons_token_and_the_use_is_counted_and_audited(ports: Ports, session: Session) -> None:
    tokens = ports.get(SectorTokens)
    assert tokens is not None
    add_person(session, "6497869071")
    perpetual = vids.create_vid(
        session=session, national_id="6497869071", kind="perpetual", settings=IdentitySettings(), actor="t"
    )
    temporary = vids.create_vid(
        session=session, national_id="6497869071", kind="temporary", settings=IdentitySettings(), actor="t"
    )
    by_id = tokens.token_for(session=session, national_id="6497869071", sector="payments")
    for vid in (perpetual.vid, temporary.vid):
        assert tokens.token_for_vid(session=session, vid=vid, sector="payments", actor="partner:Bank") == by_id
    used = session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.vid.used")).all()
    assert [(e.actor, e.subject, e.detail["kind"], e.detail["sector"]) for e in used] == [
        ("partner:Bank", "person:6497869071", "perpetual", "payments"),
        ("partner:Bank", "person:6497869071", "temporary", "payments"),
    ]
    with pytest.raises(Problem, match="no uses left") as used_up:  # a temporary VID allows one use by default
        tokens.token_for_vid(session=session, vid=temporary.vid, sector="payments", actor="partner:Bank")
    assert used_up.value.kind == "vid-used-up"


def test_an_unusable_vid_or_its_inactive_person_gets_no_token(ports: Ports, session: Session) -> None:
    tokens = ports.get(SectorTokens)
    assert tokens is not None
    add_person(session, "6497869071")
    settings = IdentitySettings()
    revoked = vids.create_vid(session=session, national_id="6497869071", kind="perpetual", settings=settings, actor="t")
    vids.revoke_vid(session=session, national_id="6497869071", vid=revoked.vid, actor="t")
    expired = vids.create_vid(session=session, national_id="6497869071", kind="temporary", settings=settings, actor="t")
    expired.expires_at = utcnow() - timedelta(seconds=1)
    kinds = {}
    for vid in (revoked.vid, expired.vid, idnumbers.generate(vids.VID_LENGTH), "12ab"):
        with pytest.raises(Problem) as refused:
            tokens.token_for_vid(session=session, vid=vid, sector="payments", actor="t")
        kinds[vid] = refused.value.kind
    assert list(kinds.values()) == ["vid-revoked", "vid-expired", "not-found", "invalid-national-id"]
    usable = vids.create_vid(session=session, national_id="6497869071", kind="perpetual", settings=settings, actor="t")
    session.scalars(select(Person)).one().status = PersonStatus.DECEASED
    with pytest.raises(Conflict, match="deceased"):
        tokens.token_for_vid(session=session, vid=usable.vid, sector="payments", actor="t")
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.vid.used")).all() == []
