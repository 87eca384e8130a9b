"""The worker's delivery job: the outbox drained through the settings' gateway, on the job's schedule."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from ....conftest import TEST_SECRET
from ....core.registry import installed_parts
from ....core.runtime import Runtime
from ..config import IdentitySettings
from ..jobs import DELIVER_NOTIFICATIONS
from ..models import OutboxMessage
from ..notifier import OutboxNotifier
from .conftest import PHONE
from .gateways import sms_gateway

TOKEN = "gateway-token-for-tests"


def delivery_job():
    return next(job for part in installed_parts() for job in part.jobs if job.name == DELIVER_NOTIFICATIONS)


def test_delivery_is_a_job_of_the_worker_every_minute() -> None:
    assert delivery_job().schedule == "* * * * *"


def test_the_delivery_job_sends_through_the_configured_gateway(runtime: Runtime, session: Session) -> None:
    OutboxNotifier(secret=TEST_SECRET).send(session=session, recipient=PHONE, body="271828 is your code", channel="sms")
    session.commit()
    with sms_gateway() as gateway:
        configured = IdentitySettings(notify_sms="sms-http", sms_gateway_url=gateway.url, sms_gateway_token=TOKEN)
        worker_runtime = replace(runtime, part_settings={**runtime.part_settings, IdentitySettings: configured})
        delivery_job().run(worker_runtime)
    assert [payload["text"] for payload in gateway.received] == ["271828 is your code"]
    session.expire_all()
    [message] = session.scalars(select(OutboxMessage)).all()
    assert message.status == "sent" and message.body is None
