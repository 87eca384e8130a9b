"""Rate limits on the sign-in forms: attempts per client address and form in a fixed window.

Counted in the database, so every replica of the service shares the count; a staff account's own
lock-out (core/staff.py) and the identity module's OTP limits apply on top.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import Problem
from ..i18n import _
from ..models import SignInAttempts, utcnow

WINDOW = timedelta(minutes=1)


class TooManyAttempts(Problem):
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            _("too many sign-in attempts from this address; try again in {seconds} seconds").format(
                seconds=retry_after
            ),
            kind="too-many-attempts",
            headers={"Retry-After": str(retry_after)},
        )


def admit(*, session: Session, form: str, client: str, limit: int, now: datetime | None = None) -> None:
    """Count one attempt of `form` from `client`; refuse (429) beyond `limit` in the window. Commits."""
    now = now or utcnow()
    key = f"{form}:{client}"[:160]
    row = session.scalars(select(SignInAttempts).where(SignInAttempts.key == key).with_for_update()).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(SignInAttempts(key=key, window_started_at=now, attempts=1))
            session.commit()
            return
        except IntegrityError:  # another request from the same address counted first
            row = session.scalars(select(SignInAttempts).where(SignInAttempts.key == key).with_for_update()).one()
    started = _aware(row.window_started_at)
    if now - started >= WINDOW:
        row.window_started_at, row.attempts = now, 1
    else:
        row.attempts += 1
    session.commit()
    if row.attempts > limit:
        raise TooManyAttempts(max(1, int((started + WINDOW - now).total_seconds()) + 1))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
