"""MOSIP ID Authentication on our stack, driven by MOSIP's own relying-party client, unchanged.

`mosip-auth-sdk` (the package MOSIP publishes for relying parties) runs in a virtualenv of its own
(`mosip_sdk.py`: it pins cryptography<44, which the stack's environment must not be held to), in a
process per relying party (`mosip_relying_party.py`), configured from its TOML file as a relying
party would: our IDA certificate (from `identity mosip certificate`) to encrypt to, the partner's
PKCS#12 to sign and decrypt with, the MISP licence key and API key `identity mosip onboard` printed.
It talks HTTP to the stack served by uvicorn on 127.0.0.1. The malformed requests after it are
ours, sent in this process: a MOSIP-shaped refusal each, never a 422 or a 500, nothing written.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws
from joserfc.jwk import RSAKey
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from ....cli import app as cli_app
from ....conftest import TEST_SECRET
from ....core.db import make_session_factory
from ....core.encoding import b64url_encode
from ....core.models import AuditEvent
from .. import mosip_crypto, vids
from ..auth import partner_token
from ..config import IdentitySettings
from .conftest import PHONE, Relying
from .mosip_sdk import Answer, RelyingParty, SdkUnavailable, sdk_python

pytestmark = pytest.mark.country_independent

P12_PASSWORD = "relying-party"
# MOSIP's demographic fields, as the SDK's DemographicsModel takes them.
NAME = [{"language": "eng", "value": "Amina Wanjiru"}]
DEMOGRAPHICS = {"name": NAME, "dob": "1985/04/12", "gender": [{"language": "eng", "value": "Female"}]}
runner = CliRunner()


@pytest.fixture(scope="module")
def partner_keys(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A relying party's key pair: its certificate (PEM, to onboard) and PKCS#12 (for the client)."""
    folder = tmp_path_factory.mktemp("relying-party")
    key, certificate = mosip_crypto.generate("Relying party", days=30)
    (folder / "partner.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    p12 = pkcs12.serialize_key_and_certificates(
        b"partner", key, certificate, None, serialization.BestAvailableEncryption(P12_PASSWORD.encode())
    )
    (folder / "partner.p12").write_bytes(p12)
    return SimpleNamespace(folder=folder, key=key, certificate=certificate)


@pytest.fixture
def onboarded(
    cli_on_test_database: Path, relying_party: Callable[..., Relying], partner_keys: SimpleNamespace
) -> Callable[..., SimpleNamespace]:
    """A partner with a policy, onboarded through the CLI; our IDA certificate written by the CLI."""

    def make(
        *scopes: str, auth_types: tuple[str, ...] = ("demo", "otp"), ekyc: tuple[str, ...] = ()
    ) -> SimpleNamespace:
        bank = relying_party(*scopes, auth_types=auth_types, ekyc=ekyc)
        certificate = partner_keys.folder / "partner.pem"
        result = runner.invoke(
            cli_app, ["identity", "mosip", "onboard", "--partner-id", str(bank.id), "--certificate", str(certificate)]
        )
        assert result.exit_code == 0, result.output
        misp = re.search(r"MISP licence key: (\S+)", result.output)
        api = re.search(r"partner API key: (\S+)", result.output)
        assert misp and api, result.output
        ida = cli_on_test_database / "ida.pem"
        assert runner.invoke(cli_app, ["identity", "mosip", "certificate", "--out", str(ida)]).exit_code == 0
        return SimpleNamespace(id=bank.id, misp=misp.group(1), api_key=api.group(1), ida_certificate=ida)

    return make


@pytest.fixture(scope="session")
def mosip_client_python() -> Path:
    """The SDK's own virtualenv (built once per machine; a second worker waits for the first)."""
    try:
        return sdk_python()
    except SdkUnavailable as error:
        pytest.fail(str(error))


@pytest.fixture
def sdk(
    live_server: str, partner_keys: SimpleNamespace, mosip_client_python: Path
) -> Iterator[Callable[[SimpleNamespace], RelyingParty]]:
    """MOSIP's client for a partner, configured from its TOML file as a relying party configures it."""
    started: list[RelyingParty] = []

    def start(partner: SimpleNamespace) -> RelyingParty:
        config = partner_keys.folder / f"authenticator-config-{partner.id}.toml"
        p12 = partner_keys.folder / "partner.p12"
        config.write_text(
            f"""
[mosip_auth]
timestamp_format = "%Y-%m-%dT%H:%M:%S"
ida_auth_version = "1.0"
ida_auth_request_demo_id = "mosip.identity.auth"
ida_auth_request_kyc_id = "mosip.identity.kyc"
ida_auth_request_otp_id = "mosip.identity.otp"
ida_auth_env = "Staging"
authorization_header_constant = ""
partner_apikey = "{partner.api_key}"
partner_misp_lk = "{partner.misp}"
partner_id = "{partner.id}"

[mosip_auth_server]
ida_auth_domain_uri = "{live_server}"
ida_auth_url = "{live_server}/idauthentication/v1/"

[crypto_encrypt]
symmetric_key_size = 256
symmetric_nonce_size = 128
symmetric_gcm_tag_size = 128
encrypt_cert_path = "{partner.ida_certificate}"
decrypt_p12_file_path = "{p12}"
decrypt_p12_file_password = "{P12_PASSWORD}"

[crypto_signature]
algorithm = "RS256"
sign_p12_file_path = "{p12}"
sign_p12_file_password = "{P12_PASSWORD}"

[logging]
log_file_path = "{partner_keys.folder / "authenticator.log"}"
log_format = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
loglevel = "INFO"
""",
            encoding="utf-8",
        )
        relying_party = RelyingParty(mosip_client_python, config, log=partner_keys.folder / "relying-party.log")
        started.append(relying_party)
        return relying_party

    yield start
    for relying_party in started:
        relying_party.close()


def verified(response: Answer, ida_certificate: Path) -> dict[str, Any]:
    """The answer's JSON, once its `response-signature` is checked against our IDA certificate."""
    certificate = mosip_crypto.load_certificate(ida_certificate.read_bytes())
    mosip_crypto.verify_signature(response.headers["response-signature"], response.content, certificate)
    return response.json()


def test_mosip_client_authenticates_by_demographics_and_by_otp_then_gets_ekyc(
    enrolled: Callable[..., str], onboarded, sdk: Callable[[SimpleNamespace], RelyingParty], read_otp
) -> None:
    national_id = enrolled()
    partner = onboarded("identity:auth", "identity:ekyc", ekyc=("given_name", "family_name", "date_of_birth", "phone"))
    client = sdk(partner)
    token = partner_token(secret=TEST_SECRET, partner_id=partner.id, national_id=national_id)

    demo = client.auth(individual_id=national_id, individual_id_type="UIN", demographic_data=DEMOGRAPHICS, consent=True)
    answer = verified(demo, partner.ida_certificate)
    assert answer["errors"] is None, answer
    assert answer["id"] == "mosip.identity.auth" and answer["response"] == {"authStatus": True, "authToken": token}
    assert answer["responseTime"].endswith("Z")

    sent = client.genotp(individual_id=national_id, individual_id_type="UIN", txn_id="1234567890", phone=True)
    answer = verified(sent, partner.ida_certificate)
    assert answer["errors"] is None and answer["transactionID"] == "1234567890", answer
    assert answer["response"]["maskedMobile"].endswith(PHONE[-2:])
    by_otp = client.auth(
        individual_id=national_id, individual_id_type="UIN", txn_id="1234567890", otp_value=read_otp(), consent=True
    )
    assert verified(by_otp, partner.ida_certificate)["response"] == {"authStatus": True, "authToken": token}

    kyc = client.kyc(individual_id=national_id, individual_id_type="UIN", demographic_data=DEMOGRAPHICS, consent=True)
    answer = verified(kyc, partner.ida_certificate)
    assert answer["response"]["kycStatus"] is True and answer["response"]["authToken"] == token, answer
    identity = client.decrypt_response(answer)  # by the SDK, with the partner's key
    assert identity["name"][0]["value"] == "Amina Wanjiru" and identity["firstName"][0]["value"] == "Amina"
    assert identity["dob"] == "1985/04/12" and identity["phoneNumber"] == PHONE
    assert "gender" not in identity and "fullAddress" not in identity  # outside the policy


def test_mosip_client_failures_are_mosip_errors(
    enrolled: Callable[..., str], onboarded, sdk: Callable[[SimpleNamespace], RelyingParty]
) -> None:
    national_id = enrolled()
    partner = onboarded("identity:auth", auth_types=("demo",))
    client = sdk(partner)
    wrong_name = {"name": [{"language": "eng", "value": "Amina Otieno"}], "dob": "1985/04/12"}
    answer = client.auth(individual_id=national_id, individual_id_type="UIN", demographic_data=wrong_name, consent=True)
    assert answer.json()["response"] == {"authStatus": False, "authToken": None}
    assert [(e["errorCode"], e["errorMessage"]) for e in answer.json()["errors"]] == [
        ("IDA-DEA-001", "Demographic data name did not match")
    ]
    no_consent = client.auth(individual_id=national_id, individual_id_type="UIN", demographic_data=DEMOGRAPHICS)
    assert _codes(no_consent.json()) == ["IDA-MLC-012"]
    otp = client.auth(individual_id=national_id, individual_id_type="UIN", otp_value="123456", consent=True)
    assert _codes(otp.json()) == ["IDA-MPA-006"]  # the policy allows demo only
    assert _codes(client.genotp(individual_id=national_id, individual_id_type="UIN", phone=True).json()) == [
        "IDA-MPA-005"
    ]
    kyc = client.kyc(individual_id=national_id, individual_id_type="UIN", demographic_data=DEMOGRAPHICS, consent=True)
    assert _codes(kyc.json()) == ["IDA-MPA-013"]
    nobody = client.auth(individual_id="2" * 20, individual_id_type="UIN", demographic_data=DEMOGRAPHICS, consent=True)
    assert _codes(nobody.json()) == ["IDA-MLC-002"]


def test_mosip_client_authenticates_by_vid_and_a_revoked_vid_is_refused(
    enrolled: Callable[..., str], onboarded, sdk: Callable[[SimpleNamespace], RelyingParty], engine: Engine
) -> None:
    national_id = enrolled()
    partner = onboarded("identity:auth", auth_types=("demo",))
    with make_session_factory(engine).begin() as session:
        vid = vids.create_vid(
            session=session, national_id=national_id, kind="perpetual", settings=IdentitySettings(), actor="test"
        ).vid
    client = sdk(partner)
    answer = client.auth(individual_id=vid, individual_id_type="VID", demographic_data=DEMOGRAPHICS, consent=True)
    token = partner_token(secret=TEST_SECRET, partner_id=partner.id, national_id=national_id)
    assert answer.json()["response"] == {"authStatus": True, "authToken": token}, answer.text
    with make_session_factory(engine).begin() as session:
        vids.revoke_vid(session=session, national_id=national_id, vid=vid, actor="test")
    answer = client.auth(individual_id=vid, individual_id_type="VID", demographic_data=DEMOGRAPHICS, consent=True)
    assert _codes(answer.json()) == ["IDA-MLC-023"]


def test_a_tampered_or_foreign_signature_is_refused(
    enrolled: Callable[..., str], onboarded, sdk: Callable[[SimpleNamespace], RelyingParty], engine: Engine
) -> None:
    national_id = enrolled()
    partner = onboarded("identity:auth")
    client = sdk(partner)
    client.tamper_signatures()
    before = _audit_events(engine)
    refused = client.auth(
        individual_id=national_id, individual_id_type="UIN", demographic_data=DEMOGRAPHICS, consent=True
    )
    assert refused.status_code == 200 and _codes(refused.json()) == ["IDA-MPA-001"]
    assert refused.json()["response"] == {"authStatus": False, "authToken": None}

    # Signed by another key, whose certificate the header names: not the onboarded certificate.
    other_key, other_certificate = mosip_crypto.generate("Someone else", days=1)
    client.sign_with(_pem(other_key), other_certificate.public_bytes(serialization.Encoding.PEM))
    foreign = client.auth(
        individual_id=national_id, individual_id_type="UIN", demographic_data=DEMOGRAPHICS, consent=True
    )
    assert _codes(foreign.json()) == ["IDA-MPA-021"]
    assert _audit_events(engine) == before  # nothing was authenticated, nothing written


def _pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# Requests the client would never send, signed by the partner (our own signer: joserfc, RS256, detached).


def signed_post(client: TestClient, partner: SimpleNamespace, keys: SimpleNamespace, body: bytes, path: str = ""):
    der = keys.certificate.public_bytes(serialization.Encoding.DER)
    protected = {"alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    head, _payload, signature = jws.serialize_compact(
        protected, body, RSAKey.import_key(_pem(keys.key)), registry=mosip_crypto._REGISTRY
    ).split(".")
    url = path or f"/idauthentication/v1/auth/{partner.misp}/{partner.id}/{partner.api_key}"
    return client.post(url, content=body, headers={"Signature": f"{head}..{signature}"})


def envelope(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = {
        "id": "mosip.identity.auth",
        "version": "1.0",
        "requestTime": now,
        "transactionID": "1234567890",
        "individualId": "1234567890",
        "individualIdType": "UIN",
        "consentObtained": True,
        "thumbprint": "x",
        "requestSessionKey": "x",
        "request": "x",
        "requestHMAC": "x",
        "metadata": {},
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_malformed_requests_get_mosip_errors(
    client: TestClient, onboarded, partner_keys: SimpleNamespace, engine: Engine
) -> None:
    partner = onboarded("identity:auth")
    before = _audit_events(engine)
    late = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    cases = {
        b"not json": "IDA-MLC-009",
        b"[1, 2]": "IDA-MLC-009",
        json.dumps(envelope(id=None)).encode(): "IDA-MLC-006",
        json.dumps(envelope(id="mosip.identity.kyc")).encode(): "IDA-MLC-009",
        json.dumps(envelope(requestTime="yesterday")).encode(): "IDA-MLC-009",
        json.dumps(envelope(requestTime=late)).encode(): "IDA-MLC-001",
        json.dumps(envelope(individualIdType="HANDLE")).encode(): "IDA-MLC-015",
        json.dumps(envelope(transactionID=12)).encode(): "IDA-MLC-009",
        json.dumps(envelope(consentObtained="yes")).encode(): "IDA-MLC-009",
        json.dumps(envelope()).encode(): "IDA-MPA-003",  # the thumbprint is not our certificate's
    }
    for body, code in cases.items():
        answer = signed_post(client, partner, partner_keys, body)
        assert answer.status_code == 200 and _codes(answer.json()) == [code], (body, answer.text)
    paths = {
        f"/idauthentication/v1/auth/{partner.misp}/{partner.id}/wrong": "IDA-MPA-009",
        f"/idauthentication/v1/auth/wrong/{partner.id}/{partner.api_key}": "IDA-MPA-007",
        f"/idauthentication/v1/auth/{partner.misp}/x/{partner.api_key}": "IDA-MPA-009",
        f"/idauthentication/v1/auth/{partner.misp}/{partner.id}": "IDA-MPA-038",
        f"/idauthentication/v1/verify/{partner.misp}/{partner.id}/{partner.api_key}": "IDA-MPA-038",
    }
    for path, code in paths.items():
        answer = signed_post(client, partner, partner_keys, json.dumps(envelope()).encode(), path)
        assert answer.status_code == 200 and _codes(answer.json()) == [code], (path, answer.text)
    unsigned = client.post(f"/idauthentication/v1/otp/{partner.misp}/{partner.id}/{partner.api_key}", content=b"{}")
    assert _codes(unsigned.json()) == ["IDA-MPA-001"] and unsigned.json()["id"] == "mosip.identity.otp"
    assert _audit_events(engine) == before


def test_a_request_whose_hmac_does_not_match_is_refused(
    client: TestClient, onboarded, partner_keys: SimpleNamespace, engine: Engine
) -> None:
    partner = onboarded("identity:auth")
    keys = mosip_crypto.ida_keys(
        session_factory=make_session_factory(engine), settings=IdentitySettings(), secret=TEST_SECRET
    )
    plain = json.dumps({"otp": "123456", "timestamp": "x", "demographics": None, "biometrics": []}).encode()
    sealed, session_key = mosip_crypto.seal_to(keys.certificate, plain)
    aes_key = keys.private_key.decrypt(mosip_crypto.b64decode(session_key), mosip_crypto.OAEP)
    other_hmac = b64url_encode(mosip_crypto._gcm_seal(aes_key, b"0" * 64))
    body = envelope(thumbprint=keys.thumbprint, requestSessionKey=session_key, request=sealed, requestHMAC=other_hmac)
    answer = signed_post(client, partner, partner_keys, json.dumps(body).encode())
    assert _codes(answer.json()) == ["IDA-MPA-016"]


@pytest.fixture
def sealing(engine: Engine) -> Callable[[bytes], dict[str, Any]]:
    """An envelope whose `request` is sealed properly to our IDA certificate (a relying party's work)."""
    keys = mosip_crypto.ida_keys(
        session_factory=make_session_factory(engine), settings=IdentitySettings(), secret=TEST_SECRET
    )

    def seal(plain: bytes) -> dict[str, Any]:
        sealed, session_key = mosip_crypto.seal_to(keys.certificate, plain)
        aes_key = keys.private_key.decrypt(mosip_crypto.b64decode(session_key), mosip_crypto.OAEP)
        digest = hashlib.sha256(plain).hexdigest().upper().encode()
        request_hmac = b64url_encode(mosip_crypto._gcm_seal(aes_key, digest))
        return envelope(
            thumbprint=keys.thumbprint, requestSessionKey=session_key, request=sealed, requestHMAC=request_hmac
        )

    return seal


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
INNER_KEYS = ["demographics", "otp", "biometrics", "staticPin", "timestamp"]
DEMOGRAPHIC_KEYS = ["name", "dob", "gender", "phoneNumber", "emailId", "age", "metadata"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(st.sampled_from(INNER_KEYS), JSON, max_size=4),
    st.dictionaries(st.sampled_from(DEMOGRAPHIC_KEYS), JSON, max_size=4),
    st.dictionaries(st.sampled_from(["demo", "otp", "bio", "pin"]), st.booleans(), max_size=3),
)
def test_any_sealed_request_gets_a_mosip_answer(
    client: TestClient,
    fuzz_partner: SimpleNamespace,
    partner_keys: SimpleNamespace,
    sealing,
    inner: dict[str, Any],
    demographics: dict[str, Any],
    requested: dict[str, bool],
) -> None:
    if demographics:
        inner["demographics"] = demographics
    body = sealing(json.dumps(inner).encode()) | {"requestedAuth": requested, "individualId": fuzz_partner.uin}
    answer = signed_post(client, fuzz_partner, partner_keys, json.dumps(body).encode())
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert bool(document["errors"]) != document["response"]["authStatus"], answer.text


def _codes(answer: dict[str, Any]) -> list[str]:
    return [error["errorCode"] for error in answer["errors"] or []]


def _audit_events(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


@pytest.fixture
def fuzz_partner(onboarded, enrolled: Callable[..., str]) -> SimpleNamespace:
    """A partner allowed demo and OTP, and a resident it may authenticate (`uin`)."""
    return SimpleNamespace(**vars(onboarded("identity:auth")), uin=enrolled())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from([*sorted(envelope()), "requestedAuth", "otpChannel"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=30) | st.lists(st.text(max_size=5), max_size=2),
    )
)
def test_any_signed_json_gets_a_mosip_answer(
    client: TestClient, fuzz_partner: SimpleNamespace, partner_keys: SimpleNamespace, changes: dict[str, Any]
) -> None:
    partner = fuzz_partner
    for operation in ("auth", "otp"):
        path = f"/idauthentication/v1/{operation}/{partner.misp}/{partner.id}/{partner.api_key}"
        answer = signed_post(client, partner, partner_keys, json.dumps(envelope(**changes)).encode(), path)
        assert answer.status_code == 200, answer.text
        assert answer.json()["errors"], answer.text


def test_onboarding_again_replaces_the_keys_and_bad_certificates_are_refused(
    client: TestClient, onboarded, partner_keys: SimpleNamespace, cli_on_test_database: Path
) -> None:
    first = onboarded("identity:auth")
    result = runner.invoke(
        cli_app,
        ["identity", "mosip", "onboard", "--partner-id", str(first.id), "--certificate", str(first.ida_certificate)],
    )
    assert result.exit_code == 0, result.output  # any RSA-2048 certificate valid now: here our own
    old = signed_post(client, first, partner_keys, json.dumps(envelope()).encode())
    assert _codes(old.json()) == ["IDA-MPA-009"]  # the keys the first onboarding printed are void

    not_pem = cli_on_test_database / "not.pem"
    not_pem.write_text("hello", encoding="utf-8")
    refused = runner.invoke(
        cli_app, ["identity", "mosip", "onboard", "--partner-id", str(first.id), "--certificate", str(not_pem)]
    )
    assert refused.exit_code == 1 and "not a PEM certificate" in refused.output, refused.output
    nobody = runner.invoke(
        cli_app,
        ["identity", "mosip", "onboard", "--partner-id", "999999", "--certificate", str(first.ida_certificate)],
    )
    assert nobody.exit_code == 1 and "no partner 999999" in nobody.output, nobody.output


def test_the_ida_key_pair_may_come_from_files(tmp_path: Path, engine: Engine) -> None:
    key, certificate = mosip_crypto.generate("Configured IDA", days=1)
    other_key, _other = mosip_crypto.generate("Another", days=1)
    key_file, certificate_file = tmp_path / "ida.key", tmp_path / "ida.pem"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    for private in (key, other_key):
        key_file.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        configured = IdentitySettings(mosip_ida_key_file=key_file, mosip_ida_certificate_file=certificate_file)
        mosip_crypto.forget_cached_keys()
        try:
            if private is key:
                keys = mosip_crypto.ida_keys(
                    session_factory=make_session_factory(engine), settings=configured, secret=TEST_SECRET
                )
                assert keys.certificate == certificate
            else:
                with pytest.raises(ValueError, match="not that of the key"):
                    mosip_crypto.ida_keys(
                        session_factory=make_session_factory(engine), settings=configured, secret=TEST_SECRET
                    )
        finally:
            mosip_crypto.forget_cached_keys()
    with pytest.raises(ValueError, match="go together"):
        IdentitySettings(mosip_ida_key_file=key_file)
