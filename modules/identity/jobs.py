"""Identity's background jobs (core/jobs.py): deliver the outbox's messages; delete one-time codes,
resident sessions and throttles that ended.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, or_

from ...core.jobs import Job
from ...core.models import utcnow
from ...core.runtime import Runtime
from .config import IdentitySettings
from .delivery import DeliveryCounts, deliver_pending
from .models import AuthThrottle, Otp, ResidentSession

logger = logging.getLogger(__name__)

PURGE_EXPIRED = "identity.purge_expired"
DELIVER_NOTIFICATIONS = "identity.deliver_notifications"


def deliver_notifications(runtime: Runtime, limit: int = 500) -> DeliveryCounts:
    """One delivery pass over the outbox through the channels the settings choose (docs/notifications.md)."""
    with runtime.session_factory() as session:
        counts = deliver_pending(session, runtime.settings, limit=limit, identity=runtime.settings_of(IdentitySettings))
    logger.info("outbox delivery pass: %s", counts)
    return counts


def purge_expired(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Delete what ended more than PURGE_GRACE_HOURS ago and no longer counts towards a rate limit.

    A code stays while the OTP rate limits still count it (their windows); a failure throttle
    stays while its window or its lock-out runs.
    """
    now = now or utcnow()
    settings = runtime.settings_of(IdentitySettings)
    cutoff = now - timedelta(hours=runtime.settings.purge_grace_hours)
    counted = timedelta(seconds=max(settings.otp_per_id_window_seconds, settings.otp_per_partner_window_seconds))
    failures = timedelta(seconds=settings.auth_failure_window_seconds)
    with runtime.session_factory.begin() as session:
        codes = session.execute(delete(Otp).where(Otp.expires_at < cutoff, Otp.created_at < now - counted)).rowcount
        sessions = session.execute(delete(ResidentSession).where(ResidentSession.expires_at < cutoff)).rowcount
        throttles = session.execute(
            delete(AuthThrottle).where(
                AuthThrottle.window_start < cutoff - failures,
                or_(AuthThrottle.locked_until.is_(None), AuthThrottle.locked_until < cutoff),
            )
        ).rowcount
    purged = {"identity_otp": codes, "identity_resident_session": sessions, "identity_auth_throttle": throttles}
    logger.info("purged expired rows: %s", purged)
    return purged


JOBS = (
    # Every minute: a code is valid for minutes, and a resident is waiting for it.
    Job(DELIVER_NOTIFICATIONS, deliver_notifications, schedule="* * * * *", summary="Deliver the outbox's messages"),
    Job(PURGE_EXPIRED, purge_expired, schedule="41 * * * *", summary="Delete expired codes and sessions"),
)
