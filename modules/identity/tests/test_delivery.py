"""Draining the outbox through a real SMTP server and a real HTTP SMS gateway, both on 127.0.0.1."""

from __future__ import annotations

import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ....cli import app as stack_cli
from ....conftest import PROJECT_ROOT, TEST_SECRET
from ....core import migrate
from ....core.db import make_engine, make_session_factory
from ....core.models import utcnow
from ....core.settings import Settings, get_settings
from ..config import IdentitySettings
from ..delivery import DeliveryCounts, backoff, deliver_pending, outbox_depth
from ..models import OutboxMessage
from ..notifier import OutboxNotifier, read, seal
from ..vids import aware
from .conftest import PHONE, Relying
from .gateways import SmsGateway, certificates, sms_gateway, smtp_relay

TOKEN = "gateway-token-for-tests"
EMAIL = "amina.wanjiru@example.org"
BEFORE_DELIVERY = "1d000000006"  # the identity revision before the outbox was drained


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    with sms_gateway() as running:
        yield running


def sms_settings(gateway: SmsGateway, **changes: object) -> IdentitySettings:
    values: dict[str, object] = {
        "notify_sms": "sms-http",
        "sms_gateway_url": gateway.url,
        "sms_gateway_token": TOKEN,
        "notify_max_attempts": 3,
        "notify_backoff_seconds": 30,
    }
    return IdentitySettings(**(values | changes))


def write(session: Session, body: str, *, recipient: str = PHONE, channel: str = "sms", **changes) -> OutboxMessage:
    OutboxNotifier(secret=TEST_SECRET).send(session=session, recipient=recipient, body=body, channel=channel, **changes)
    session.commit()
    return session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()


def raw_rows(session: Session) -> list[tuple]:
    """Every text column of every outbox row as the database holds it (no ORM, no decryption); the
    times are left out, as their microseconds could read as a six-digit code."""
    query = "SELECT channel, recipient, body, status, last_error FROM identity_outbox"
    return [tuple(row) for row in session.execute(text(query))]


def test_an_otp_reaches_the_gateway_works_there_and_leaves_no_text_behind(
    client: TestClient,
    enrolled: Callable[..., str],
    relying_party: Callable[..., Relying],
    session: Session,
    settings: Settings,
    gateway: SmsGateway,
) -> None:
    national_id = enrolled()
    bank = relying_party("identity:auth", auth_types=("otp",))
    otp = {"transaction_id": "txn-00000001", "individual_id": national_id, "consent": True}
    assert client.post("/identity/otp", json=otp, headers=bank.headers).status_code == 200
    assert outbox_depth(session) == 1

    counts = deliver_pending(session, settings, identity=sms_settings(gateway))

    assert counts == DeliveryCounts(sent=1)
    [payload] = gateway.received
    assert payload["to"] == PHONE and payload["reference"].startswith("identity-outbox-")
    assert gateway.headers[0]["Authorization"] == f"Bearer {TOKEN}"
    assert gateway.headers[0]["Idempotency-Key"] == payload["reference"]
    code = payload["text"].split()[0]
    attempt = {**otp, "otp": code}
    assert client.post("/identity/auth", json=attempt, headers=bank.headers).json()["authenticated"] is True
    message = session.scalars(select(OutboxMessage)).one()
    assert (message.status, message.attempts, message.body, message.last_error) == ("sent", 1, None, None)
    assert message.sent_at is not None
    assert not any(code in str(value) for row in raw_rows(session) for value in row)
    assert outbox_depth(session) == 0
    with pytest.raises(ValueError, match="is sent; its text is gone"):
        read(message, secret=TEST_SECRET)


def test_the_outbox_never_holds_a_code_in_clear(session: Session, settings: Settings, gateway: SmsGateway) -> None:
    write(session, "731904 is your one-time code")
    write(session, "880231 is your one-time code", recipient=EMAIL, channel="email")
    assert not any("731904" in str(v) or "880231" in str(v) for row in raw_rows(session) for v in row)
    deliver_pending(session, settings, identity=sms_settings(gateway))
    assert not any("731904" in str(v) for row in raw_rows(session) for v in row)
    # The e-mail channel stayed on 'outbox': that message waits, sealed, readable through `read` only.
    waiting = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")).one()
    assert waiting.status == "pending" and read(waiting, secret=TEST_SECRET) == "880231 is your one-time code"


def test_an_email_is_taken_by_a_real_smtp_server(session: Session, settings: Settings) -> None:
    with smtp_relay() as relay:
        identity = IdentitySettings(
            notify_email="smtp",
            smtp_host="127.0.0.1",
            smtp_port=relay.port,
            smtp_starttls=False,
            smtp_sender="registry@example.gov",
        )
        message = write(
            session, "Your ID card is ready\nCollect it at the Capital office.", recipient=EMAIL, channel="email"
        )
        write(session, "Your VID was revoked", recipient="other@example.org", channel="email")
        counts = deliver_pending(session, settings, identity=identity)
    assert counts == DeliveryCounts(sent=2)
    mail, other = relay.received
    assert mail.peer == other.peer  # one connection for the pass
    assert other.recipients == ["other@example.org"] and other.message["Subject"] == "Your VID was revoked"
    assert mail.sender == "registry@example.gov" and mail.recipients == [EMAIL]
    assert mail.message["Subject"] == "Your ID card is ready"
    assert "Collect it at the Capital office." in mail.message.get_payload(decode=True).decode()
    session.refresh(message)
    assert message.status == "sent" and message.body is None


def test_smtp_upgrades_with_starttls_verifies_the_relay_and_logs_in(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    made = certificates(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(made.cert_file, made.key_file)
    login = ("registry", "relay password")
    with smtp_relay(tls=server_tls, login=login) as relay:

        def relay_settings(**changes: object) -> IdentitySettings:
            values: dict[str, object] = {
                "notify_email": "smtp",
                "smtp_host": "127.0.0.1",
                "smtp_port": relay.port,
                "smtp_user": login[0],
                "smtp_password": login[1],
                "smtp_ca_file": made.ca_file,
                "notify_max_attempts": 1,
            }
            return IdentitySettings(**(values | changes))

        write(session, "482913 is your one-time code", recipient=EMAIL, channel="email")
        assert deliver_pending(session, settings, identity=relay_settings()) == DeliveryCounts(sent=1)
        # A relay whose certificate this deployment does not trust is never handed the message.
        untrusted = write(session, "551200 is your one-time code", recipient=EMAIL, channel="email")
        assert deliver_pending(session, settings, identity=relay_settings(smtp_ca_file=None)).failed == 1
        wrong_password = write(session, "661300 is your one-time code", recipient=EMAIL, channel="email")
        assert deliver_pending(session, settings, identity=relay_settings(smtp_password="wrong")).failed == 1
    assert [mail.message["Subject"] for mail in relay.received] == ["482913 is your one-time code"]
    session.refresh(untrusted)
    session.refresh(wrong_password)
    assert untrusted.last_error == "SSLCertVerificationError"
    assert wrong_password.last_error == "SMTP 535 SMTPAuthenticationError"


def test_a_failing_gateway_is_retried_with_back_off_then_given_up(
    session: Session, settings: Settings, gateway: SmsGateway
) -> None:
    identity = sms_settings(gateway)
    message = write(session, "204518 is your one-time code")
    gateway.answers.extend([503, 503, 503])
    start = utcnow()

    def drain(after_seconds: int) -> DeliveryCounts:
        return deliver_pending(session, settings, identity=identity, now=start + timedelta(seconds=after_seconds))

    assert drain(0) == DeliveryCounts(retrying=1)
    session.refresh(message)
    assert message.attempts == 1 and message.last_error == "HTTP 503" and message.body is not None
    assert aware(message.next_attempt_at) == start + timedelta(seconds=30)
    assert drain(29) == DeliveryCounts()  # not due yet
    assert drain(30) == DeliveryCounts(retrying=1)
    session.refresh(message)
    assert aware(message.next_attempt_at) == start + timedelta(seconds=30 + 60)  # doubled
    assert drain(90) == DeliveryCounts(failed=1)
    session.refresh(message)
    assert (message.status, message.attempts, message.body) == ("failed", 3, None)
    assert len(gateway.received) == 3
    assert PHONE not in message.last_error and "204518" not in message.last_error
    assert drain(10_000) == DeliveryCounts()  # a failed message is never tried again


def test_a_message_the_gateway_takes_on_a_later_attempt_is_sent_once(
    session: Session, settings: Settings, gateway: SmsGateway
) -> None:
    message = write(session, "390114 is your one-time code")
    gateway.answers.extend([429])
    identity = sms_settings(gateway)
    assert deliver_pending(session, settings, identity=identity).retrying == 1
    later = utcnow() + timedelta(seconds=31)
    assert deliver_pending(session, settings, identity=identity, now=later) == DeliveryCounts(sent=1)
    session.refresh(message)
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)
    assert [payload["text"] for payload in gateway.received] == ["390114 is your one-time code"] * 2


def test_a_number_the_gateway_refuses_fails_at_once(session: Session, settings: Settings, gateway: SmsGateway) -> None:
    message = write(session, "118822 is your one-time code")
    gateway.answers.extend([400])
    assert deliver_pending(session, settings, identity=sms_settings(gateway)) == DeliveryCounts(failed=1)
    session.refresh(message)
    assert (message.status, message.attempts, message.last_error, message.body) == ("failed", 1, "HTTP 400", None)


def test_an_unreachable_gateway_is_a_retry_not_a_crash(session: Session, settings: Settings) -> None:
    with sms_gateway() as stopped:
        url = stopped.url
    message = write(session, "440011 is your one-time code")
    identity = IdentitySettings(notify_sms="sms-http", sms_gateway_url=url, sms_gateway_timeout_seconds=2)
    assert deliver_pending(session, settings, identity=identity) == DeliveryCounts(retrying=1)
    session.refresh(message)
    assert message.last_error == "ConnectError"


def test_expired_messages_are_never_sent_and_lose_their_text(
    session: Session, settings: Settings, gateway: SmsGateway
) -> None:
    dead = write(session, "700700 is your one-time code", expires_at=utcnow() - timedelta(seconds=1))
    alive = write(session, "800800 is your one-time code")
    assert deliver_pending(session, settings, identity=sms_settings(gateway)) == DeliveryCounts(sent=1, expired=1)
    assert [payload["text"] for payload in gateway.received] == ["800800 is your one-time code"]
    session.refresh(dead)
    session.refresh(alive)
    assert (dead.status, dead.attempts, dead.body) == ("expired", 0, None)
    assert alive.status == "sent"


def test_an_otp_message_dies_with_its_code(
    client: TestClient,
    enrolled: Callable[..., str],
    relying_party: Callable[..., Relying],
    session: Session,
    settings: Settings,
    gateway: SmsGateway,
) -> None:
    national_id = enrolled()
    bank = relying_party("identity:auth", auth_types=("otp",))
    otp = {"transaction_id": "txn-00000002", "individual_id": national_id, "consent": True}
    assert client.post("/identity/otp", json=otp, headers=bank.headers).status_code == 200
    ttl = IdentitySettings().otp_ttl_seconds
    late = utcnow() + timedelta(seconds=ttl + 1)
    assert deliver_pending(session, settings, identity=sms_settings(gateway), now=late) == DeliveryCounts(expired=1)
    assert gateway.received == []


def test_on_outbox_alone_messages_wait_readable_until_they_expire(session: Session, settings: Settings) -> None:
    message = write(session, "123123 is your one-time code", expires_at=utcnow() + timedelta(minutes=3))
    identity = IdentitySettings(notify_sms="outbox", notify_email="outbox")
    assert deliver_pending(session, settings, identity=identity) == DeliveryCounts()
    assert read(message, secret=TEST_SECRET).startswith("123123") and outbox_depth(session) == 1
    later = utcnow() + timedelta(minutes=4)
    assert deliver_pending(session, settings, identity=identity, now=later) == DeliveryCounts(expired=1)
    session.refresh(message)
    assert message.body is None and outbox_depth(session) == 0


def test_a_pass_settles_at_most_its_limit(session: Session, settings: Settings, gateway: SmsGateway) -> None:
    for number in range(5):
        write(session, f"10000{number} is your one-time code")
    identity = sms_settings(gateway)
    first = deliver_pending(session, settings, identity=identity, limit=3)
    assert first == DeliveryCounts(sent=3) and first.total == 3
    assert outbox_depth(session) == 2
    assert deliver_pending(session, settings, identity=identity) == DeliveryCounts(sent=2)


def test_a_message_sealed_under_another_key_fails_without_being_sent(
    session: Session, settings: Settings, gateway: SmsGateway
) -> None:
    OutboxNotifier(secret="another-secret-key-of-some-length").send(session=session, recipient=PHONE, body="x")
    session.commit()
    assert deliver_pending(session, settings, identity=sms_settings(gateway)) == DeliveryCounts(failed=1)
    assert gateway.received == []
    assert session.scalars(select(OutboxMessage.last_error)).one() == "sealed under another SECRET_KEY"


def test_back_off_doubles_from_the_base_and_is_capped() -> None:
    assert [backoff(n, 30).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(99, 30) == timedelta(days=1)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"notify_sms": "sms-http"}, "IDENTITY_SMS_GATEWAY_URL"),
        ({"notify_email": "smtp"}, "IDENTITY_SMTP_HOST"),
        ({"sms_gateway_url": "ftp://gateway.example"}, "IDENTITY_SMS_GATEWAY_URL"),
        ({"smtp_user": "registry", "smtp_starttls": False}, "IDENTITY_SMTP_STARTTLS"),
        ({"notify_sms": "carrier-pigeon"}, "notify_sms"),
    ],
)
def test_incomplete_transport_settings_are_refused(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        IdentitySettings(**changes)


@pytest.mark.country_independent  # the outbox's locking, whatever the message says
def test_a_slow_gateway_does_not_hold_up_requests_that_write(
    engine: Engine, settings: Settings, gateway: SmsGateway
) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        write(session, "313131 is your one-time code")
    gateway.delay_seconds = 2.0
    identity = sms_settings(gateway)

    def drain() -> None:
        with factory() as session:
            deliver_pending(session, settings, identity=identity)

    drainer = threading.Thread(target=drain)
    drainer.start()
    assert gateway.arrived.wait(timeout=10)
    started = time.perf_counter()
    with factory() as session:  # as a request would, while the gateway is still answering (e-mail: not drained)
        write(session, "424242 is your one-time code", recipient=EMAIL, channel="email")
    waited = time.perf_counter() - started
    drainer.join()
    assert waited < 1.0, f"a write waited {waited:.2f} s for the drainer's send"
    with factory() as session:
        assert {m.status for m in session.scalars(select(OutboxMessage))} == {"sent", "pending"}


def test_two_drainers_on_sqlite_take_turns_and_send_each_message_once(
    engine: Engine, settings: Settings, gateway: SmsGateway
) -> None:
    _drain_concurrently(engine, settings, gateway, messages=12)


@pytest.mark.postgresql
def test_two_drainers_on_postgresql_send_each_message_exactly_once(
    engine: Engine, settings: Settings, gateway: SmsGateway
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("needs TEST_DATABASE_URL pointing at PostgreSQL")
    counts = _drain_concurrently(engine, settings, gateway, messages=40)
    assert all(count.sent > 0 for count in counts), f"the drainers did not overlap: {counts}"


def _drain_concurrently(
    engine: Engine, settings: Settings, gateway: SmsGateway, *, messages: int
) -> list[DeliveryCounts]:
    factory = make_session_factory(engine)
    with factory() as session:
        for number in range(messages):
            write(session, f"{number:06d} is your one-time code")
    gateway.delay_seconds = 0.02  # slow enough that the two passes overlap
    identity = sms_settings(gateway)
    counts: list[DeliveryCounts] = []
    barrier = threading.Barrier(2)

    def drain() -> None:
        with factory() as session:
            barrier.wait()
            counts.append(deliver_pending(session, settings, identity=identity))

    drainers = [threading.Thread(target=drain) for _ in range(2)]
    for drainer in drainers:
        drainer.start()
    for drainer in drainers:
        drainer.join()
    references = [payload["reference"] for payload in gateway.received]
    assert len(references) == messages and len(set(references)) == messages
    assert sum(count.sent for count in counts) == messages
    with factory() as session:
        assert outbox_depth(session) == 0
    return counts


def test_the_deliver_command_runs_one_pass(
    tmp_path: Path, gateway: SmsGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    for name, value in {
        "DATABASE_URL": database_url,
        "COUNTRY_PROFILE": str(PROJECT_ROOT / "country.yml"),
        "NATION_STACK_LOCALE": "en",
        "ENVIRONMENT": "test",
        "SECRET_KEY": TEST_SECRET,
        "IDENTITY_NOTIFY_SMS": "sms-http",
        "IDENTITY_SMS_GATEWAY_URL": gateway.url,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(stack_cli, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        write(session, "909090 is your one-time code")
        write(session, "919191 is your one-time code")
    engine.dispose()
    gateway.answers.extend([503])
    result = runner.invoke(stack_cli, ["identity", "notify", "deliver"], catch_exceptions=False)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "sent 1, to retry 1, failed 0, expired 0; 1 pending" in " ".join(result.output.split())
    assert [payload["text"] for payload in gateway.received] == [
        "909090 is your one-time code",
        "919191 is your one-time code",
    ]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no tables, on each backend the run has."""
    server_url = os.environ.get("TEST_DATABASE_URL", "")
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
        yield engine
        engine.dispose()
        return
    if not server_url.startswith("postgresql"):
        pytest.skip("TEST_DATABASE_URL does not point at a PostgreSQL server")
    name = f"test_outbox_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(server_url).set(database=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_upgrade_expires_messages_nothing_was_going_to_send(empty_database: Engine, tmp_path: Path) -> None:
    migrate.upgrade(empty_database, BEFORE_DELIVERY)
    sealed = seal("551177 is your one-time code", PHONE, secret=TEST_SECRET)
    with empty_database.begin() as connection:
        connection.execute(
            text("INSERT INTO identity_outbox (channel, recipient, body, created_at) VALUES ('sms', :to, :body, :at)"),
            {"to": PHONE, "body": sealed, "at": utcnow() - timedelta(days=3)},
        )
    migrate.upgrade(empty_database)
    with make_session_factory(empty_database)() as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert (message.status, message.body, message.attempts) == ("expired", None, 0)
        assert message.expires_at == message.created_at == message.next_attempt_at
        write(session, "662288 is your one-time code")  # a message after the upgrade waits to be sent
    migrate.downgrade(empty_database, BEFORE_DELIVERY, backup_dir=tmp_path / "backups")
    with empty_database.connect() as connection:
        bodies = connection.execute(text("SELECT recipient, body FROM identity_outbox")).all()
    assert [recipient for recipient, _body in bodies] == [PHONE]  # the expired one, bodiless, could not go back
    migrate.upgrade(empty_database)
