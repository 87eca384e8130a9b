"""identity.purge_expired: deletes ended codes, sessions and throttles, and nothing a limit still counts."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.models import utcnow
from ....core.runtime import Runtime
from ..config import IdentitySettings
from ..jobs import purge_expired
from ..models import AuthThrottle, Otp, ResidentSession


def test_the_purge_deletes_only_what_ended_and_no_limit_counts(runtime: Runtime, session: Session) -> None:
    now = utcnow()
    settings = runtime.settings_of(IdentitySettings)
    long_ago = now - timedelta(hours=runtime.settings.purge_grace_hours + 1)
    just_now = now - timedelta(seconds=settings.otp_ttl_seconds + 1)  # expired, but within the grace period
    for tag, created, expires in (("old", long_ago, long_ago), ("recent", just_now, just_now), ("live", now, now)):
        expiry = expires + timedelta(seconds=settings.otp_ttl_seconds) if tag == "live" else expires
        session.add(
            Otp(national_id=tag, transaction_id=tag, partner_id=1, code_hash=tag, expires_at=expiry, created_at=created)
        )
        session.add(
            ResidentSession(
                token_hash=tag.ljust(64, "0"), national_id=tag, partner_id=1, expires_at=expiry, created_at=created
            )
        )
    window = timedelta(seconds=settings.auth_failure_window_seconds)
    session.add(AuthThrottle(national_id="old", partner_id=1, failures=2, window_start=long_ago - window))
    locked = now + timedelta(minutes=5)
    session.add(
        AuthThrottle(
            national_id="locked", partner_id=1, failures=5, window_start=long_ago - window, locked_until=locked
        )
    )
    session.add(AuthThrottle(national_id="counting", partner_id=1, failures=1, window_start=now))
    session.commit()

    purged = purge_expired(runtime, now=now)

    assert purged == {"identity_otp": 1, "identity_resident_session": 1, "identity_auth_throttle": 1}
    session.expire_all()
    assert sorted(session.scalars(select(Otp.national_id))) == ["live", "recent"]
    assert sorted(session.scalars(select(ResidentSession.national_id))) == ["live", "recent"]
    assert sorted(session.scalars(select(AuthThrottle.national_id))) == ["counting", "locked"]
