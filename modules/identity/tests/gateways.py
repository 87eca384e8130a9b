"""Real servers on 127.0.0.1 for delivery tests: an SMTP relay (aiosmtpd) and an HTTP SMS gateway.

The SMS gateway answers from a queue the test fills (503, 400, ...; 202 once it is empty) and may
be slowed down, so concurrent drainers overlap."""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ....tests.http_server import LOCALHOST, JsonHandler, http_server


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message
    peer: tuple[str, int]  # the client's address and port: one per connection


@dataclass
class SmtpRelay:
    port: int
    received: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:
        content = message_from_bytes(envelope.content)
        self.received.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), content, tuple(session.peer)))
        return "250 OK"


@contextmanager
def smtp_relay(*, tls: ssl.SSLContext | None = None, login: tuple[str, str] | None = None) -> Iterator[SmtpRelay]:
    """An SMTP server on 127.0.0.1; with `tls` it offers STARTTLS and requires it, with `login` it requires AUTH."""
    relay = SmtpRelay(port=free_port())
    options: dict[str, Any] = {}
    if tls is not None:
        options.update(tls_context=tls, require_starttls=True)
    if login is not None:
        options.update(auth_required=True, authenticator=_authenticator(*login))
    controller = Controller(relay, hostname=LOCALHOST, port=relay.port, **options)
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()


def _authenticator(user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
        # handled=False: aiosmtpd answers a refusal with 535 itself (handled=True would leave the client waiting).
        return AuthResult(success=ok and auth_data.password.decode() == password, handled=False)

    return check


@dataclass
class SmsGateway:
    url: str
    answers: deque[int] = field(default_factory=deque)
    delay_seconds: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)  # set by each request, before the delay

    def answer(self) -> int:
        with self.lock:
            return self.answers.popleft() if self.answers else 202


@contextmanager
def sms_gateway() -> Iterator[SmsGateway]:
    """An HTTP server on 127.0.0.1 taking POST /messages as an SMS gateway does."""
    with http_server(_GatewayHandler) as server:
        gateway = SmsGateway(url=f"http://{LOCALHOST}:{server.server_port}/messages")
        server.gateway = gateway  # type: ignore[attr-defined]
        yield gateway


class _GatewayHandler(JsonHandler):
    def do_POST(self) -> None:
        gateway: SmsGateway = self.server.gateway  # type: ignore[attr-defined]
        payload = json.loads(self.read_body())
        gateway.arrived.set()
        time.sleep(gateway.delay_seconds)
        status = gateway.answer()
        with gateway.lock:
            gateway.received.append(payload)
            gateway.headers.append(dict(self.headers))
        self.send_json(status, {"accepted": status < 300})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOCALHOST, 0))
        return probe.getsockname()[1]


@dataclass
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path


def certificates(folder: Path) -> Certificates:
    """A private CA and a server certificate it signed for 127.0.0.1, as PEM files in `folder`."""
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test mail CA")])
    now = datetime.now(UTC)
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOCALHOST)])
    server = (
        _builder(server_name, ca_name, server_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOCALHOST))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    made = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    made.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    made.cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    made.key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return made


def _builder(subject: x509.Name, issuer: x509.Name, key, now: datetime) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
