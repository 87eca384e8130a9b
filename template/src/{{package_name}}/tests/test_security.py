import pytest
from sqlalchemy.orm import Session

from ..core.models import Partner
from ..core.security import (
    AuthenticationFailed,
    NotPermitted,
    authenticate,
    authorise,
    issue_partner_key,
    revoke_partner,
)

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent


def test_key_is_stored_only_as_a_hash(session: Session) -> None:
    issued = issue_partner_key(session=session, name="Bank", scopes=["meta:read"])
    session.commit()
    stored = session.get(Partner, issued.partner.id)
    assert stored is not None
    assert issued.key not in (stored.key_hash, stored.key_prefix)
    assert len(stored.key_hash) == 64


def test_revoked_key_no_longer_authenticates(session: Session) -> None:
    issued = issue_partner_key(session=session, name="Bank", scopes=["meta:read"])
    assert authenticate(session=session, key=issued.key).name == "Bank"
    revoke_partner(session=session, partner_id=issued.partner.id)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate(session=session, key=issued.key)


def test_scope_check(session: Session) -> None:
    partner = issue_partner_key(session=session, name="Bank", scopes=["a:read"]).partner
    authorise(partner, "a:read")
    with pytest.raises(NotPermitted, match="b:write"):
        authorise(partner, "b:write")
