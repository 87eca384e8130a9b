"""The core's own background jobs: sign the audit chain's head, purge what expired, report the licence."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_

from . import audit
from .i18n import _
from .jobs import Job
from .models import SignInAttempts, StaffSession, utcnow
from .runtime import Runtime
from .stack import log_licence_status
from .web.throttle import WINDOW

logger = logging.getLogger(__name__)


class ChainNotIntact(RuntimeError):
    """The audit chain does not verify: its head is never signed (the job fails, and is retried)."""


def audit_checkpoint(runtime: Runtime) -> None:
    """Append the signed head of the audit chain to AUDIT_CHECKPOINT_DIR, as `audit checkpoint` does."""
    secret = runtime.settings.secret_key.get_secret_value()
    directory = runtime.settings.audit_checkpoint_dir
    checkpoints = audit.read_checkpoints(directory, secret=secret)
    with runtime.session_factory() as session:
        report = audit.verify_chain(session=session, checkpoints=checkpoints)
        problems = list(report.problems)
        if report.first_broken_id is not None:
            problems.insert(0, _("audit chain broken at event {event}").format(event=report.first_broken_id))
        if problems:
            raise ChainNotIntact("; ".join(problems))
        path = audit.write_checkpoint(session=session, directory=directory, secret=secret)
    logger.info("audit checkpoint written: %s", path)


def purge_expired(runtime: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Delete staff sessions that ended more than PURGE_GRACE_HOURS ago and sign-in counts of past windows."""
    now = now or utcnow()
    settings = runtime.settings
    cutoff = now - timedelta(hours=settings.purge_grace_hours)
    idle = timedelta(minutes=settings.staff_cookie_idle_minutes)
    with runtime.session_factory.begin() as session:
        sessions = session.execute(
            delete(StaffSession).where(
                or_(
                    StaffSession.expires_at < cutoff,
                    # a cookie session also ends when unused for the idle timeout
                    and_(StaffSession.kind == "cookie", StaffSession.last_seen_at < cutoff - idle),
                )
            )
        ).rowcount
        attempts = session.execute(
            delete(SignInAttempts).where(SignInAttempts.window_started_at < now - WINDOW)
        ).rowcount
    purged = {"core_staff_session": sessions, "core_sign_in_attempts": attempts}
    logger.info("purged expired rows: %s", purged)
    return purged


JOBS = (
    Job("core.audit_checkpoint", audit_checkpoint, schedule="7 * * * *", summary="Sign the audit chain's head hourly"),
    Job("core.purge_expired", purge_expired, schedule="23 * * * *", summary="Delete expired sessions and counts"),
    # The line `serve` writes at start, once a day: an approaching expiry or a failing grant is seen.
    Job("core.licence_status", log_licence_status, schedule="0 6 * * *", summary="Log the licence grant's standing"),
)
