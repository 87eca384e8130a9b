"""The cryptography of MOSIP ID Authentication (IDA) v1.2/1.3, as MOSIP's relying-party client does it.

Built from MOSIP's published specification and what its client, `mosip-auth-sdk`, sends:

- the request's `request` is AES-GCM under a random session key, written as base64url of
  ciphertext ‖ 16-byte tag ‖ 16-byte IV; the session key is RSA-OAEP (SHA-256, MGF1 SHA-256)
  encrypted to our IDA certificate (`requestSessionKey`); `requestHMAC` is the upper-case hex
  SHA-256 of the plain `request`, encrypted the same way under the same session key;
- `thumbprint` is base64url of the SHA-256 of our IDA certificate (DER): which key it encrypted to;
- the body is signed by the partner: a JWS (RS256) over the exact body bytes, payload detached
  (`header..signature`), in the `signature` header, the signer's certificate in `x5c`;
- an eKYC answer's `identity` is the same envelope, its `sessionKey` encrypted to the partner's
  certificate; every answer is signed by us the same way, in `response-signature`.

Our key pair (RSA, one for decrypting and signing) comes from IDENTITY_MOSIP_IDA_KEY_FILE and
IDENTITY_MOSIP_IDA_CERTIFICATE_FILE, or is generated once and kept in the database, its private key
encrypted under a key derived from SECRET_KEY, so every worker and machine uses the same one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ...core.encoding import b64url_decode, b64url_encode
from ...core.keys import derive_key
from .config import IdentitySettings
from .models import MosipIdaKey

IV_BYTES = 16  # MOSIP's: the AES block size
TAG_BYTES = 16
ALGORITHM = "RS256"
MINIMUM_RSA_BITS = 2048
IDA_KEY_PURPOSE = "ida"
IDA_KEY_SEALING = "identity mosip ida private key v1"
OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class CryptoRefused(Exception):
    """A request whose cryptography does not hold; `reason` says which check (mosip.py maps it to an error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Registry(jws.JWSRegistry):
    # A header carrying a certificate chain in x5c is larger than joserfc's default limit of 512 bytes.
    max_header_length = 32_768


_REGISTRY = _Registry(algorithms=[ALGORITHM])


def b64decode(text: str) -> bytes:
    """base64url, with or without its padding (MOSIP writes none, its Python client writes it)."""
    try:
        return b64url_decode(text)
    except ValueError as error:  # binascii.Error is one
        raise CryptoRefused("base64") from error


def thumbprint(certificate: x509.Certificate) -> str:
    return b64url_encode(certificate.fingerprint(hashes.SHA256()))


def same_thumbprint(given: str, certificate: x509.Certificate) -> bool:
    """Whether `thumbprint` names `certificate` (base64url, padded or not)."""
    try:
        return hmac.compare_digest(b64decode(given), certificate.fingerprint(hashes.SHA256()))
    except CryptoRefused:
        return False


def certificate_sha256(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def load_certificate(pem: str | bytes) -> x509.Certificate:
    """A partner's certificate as onboarded: PEM, an RSA key of at least 2048 bits, valid now."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        certificate = x509.load_pem_x509_certificate(data)
    except ValueError as error:
        raise CryptoRefused("not a PEM certificate") from error
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MINIMUM_RSA_BITS:
        raise CryptoRefused(f"not an RSA key of at least {MINIMUM_RSA_BITS} bits")
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        raise CryptoRefused("not valid now")
    return certificate


def _gcm_seal(key: bytes, data: bytes) -> bytes:
    iv = os.urandom(IV_BYTES)
    return AESGCM(key).encrypt(iv, data, None) + iv


def _gcm_open(key: bytes, blob: bytes) -> bytes:
    if len(blob) < IV_BYTES + TAG_BYTES:
        raise CryptoRefused("too short")
    try:
        return AESGCM(key).decrypt(blob[-IV_BYTES:], blob[:-IV_BYTES], None)
    except InvalidTag as error:
        raise CryptoRefused("tag") from error


def open_request(private_key: rsa.RSAPrivateKey, session_key: str, request: str) -> tuple[bytes, bytes]:
    """(the session key, the plain request) of an encrypted request; CryptoRefused when either does not open."""
    try:
        key = private_key.decrypt(b64decode(session_key), OAEP)
    except ValueError as error:
        raise CryptoRefused("session key") from error
    if len(key) not in (16, 24, 32):
        raise CryptoRefused("session key length")
    return key, _gcm_open(key, b64decode(request))


def hmac_matches(key: bytes, request_hmac: str, plain: bytes) -> bool:
    """Whether `requestHMAC` (encrypted under the session key) is the hex SHA-256 of the plain request."""
    try:
        claimed = _gcm_open(key, b64decode(request_hmac))
    except CryptoRefused:
        return False
    expected = hashlib.sha256(plain).hexdigest().upper().encode()
    return hmac.compare_digest(claimed.upper(), expected)


def seal_to(certificate: x509.Certificate, plain: bytes) -> tuple[str, str]:
    """(data, sessionKey): `plain` under a fresh AES-256-GCM key, that key RSA-OAEP to `certificate`."""
    key = AESGCM.generate_key(bit_length=256)
    public_key = certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)  # load_certificate admits RSA only
    return b64url_encode(_gcm_seal(key, plain)), b64url_encode(public_key.encrypt(key, OAEP))


def header_certificate(x5c: object) -> x509.Certificate | None:
    """The signer's certificate in a JWS header's x5c: base64 of DER (RFC 7515), or base64 of the PEM
    text, which MOSIP's Python client sends (a deviation from the RFC we accept)."""
    if not isinstance(x5c, list) or not x5c or not isinstance(x5c[0], str):
        return None
    try:
        raw = base64.b64decode("".join(x5c[0].split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        return (
            x509.load_pem_x509_certificate(raw)
            if raw.startswith(b"-----BEGIN")
            else x509.load_der_x509_certificate(raw)
        )
    except ValueError:
        return None


def verify_signature(signature: str | None, body: bytes, certificate: x509.Certificate) -> None:
    """Check the detached JWS over `body` was made with `certificate`'s key, and names that certificate.

    Raises CryptoRefused with `missing-certificate` (no usable x5c), `other-certificate` (x5c is not the
    onboarded certificate) or `signature` (absent, malformed or wrong)."""
    if not signature or signature.count(".") != 2:
        raise CryptoRefused("signature")
    try:
        header = jws.extract_compact(signature.encode(), payload=body, registry=_REGISTRY).headers()
    except (JoseError, ValueError) as error:
        raise CryptoRefused("signature") from error
    signer = header_certificate(header.get("x5c"))
    if signer is None:
        raise CryptoRefused("missing-certificate")
    if signer.fingerprint(hashes.SHA256()) != certificate.fingerprint(hashes.SHA256()):
        raise CryptoRefused("other-certificate")
    try:
        jws.deserialize_compact(signature, _public_jwk(certificate), registry=_REGISTRY, payload=body)
    except (JoseError, ValueError) as error:
        raise CryptoRefused("signature") from error


def sign(body: bytes, keys: IdaKeys) -> str:
    """Our detached JWS over an answer's body (`response-signature`)."""
    der = keys.certificate.public_bytes(serialization.Encoding.DER)
    protected = {"alg": ALGORITHM, "x5c": [base64.b64encode(der).decode("ascii")]}
    compact = jws.serialize_compact(protected, body, keys.jwk, registry=_REGISTRY)
    head, _payload, tail = compact.split(".")
    return f"{head}..{tail}"


@dataclass(frozen=True)
class IdaKeys:
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    jwk: RSAKey

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.certificate)

    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


_cache: dict[tuple[str, str, str], IdaKeys] = {}
_cache_lock = threading.Lock()


def ida_keys(*, session_factory: sessionmaker[Session], settings: IdentitySettings, secret: str) -> IdaKeys:
    """Our key pair: the configured files, else the one kept in the database (generated on first use)."""
    url = str(session_factory.kw["bind"].url) if "bind" in session_factory.kw else ""
    cache_key = (str(settings.mosip_ida_key_file), url, hashlib.sha256(secret.encode()).hexdigest())
    with _cache_lock:
        keys = _cache.get(cache_key)
        if keys is None:
            keys = _load_files(settings) if settings.mosip_ida_key_file else _stored(session_factory, secret)
            _cache[cache_key] = keys
        return keys


def _keys(private_key: object, certificate: x509.Certificate) -> IdaKeys:
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ValueError("the MOSIP IDA key must be an RSA key")
    if private_key.public_key().public_numbers() != certificate.public_key().public_numbers():  # type: ignore[union-attr]
        raise ValueError("the MOSIP IDA certificate is not that of the key")
    return IdaKeys(private_key, certificate, RSAKey.import_key(_pem(private_key)))


# joserfc imports keys from PEM in every release; only 1.8 and later take cryptography's key objects,
# and a deployment may resolve an earlier one (the stack asks for joserfc>=1.0).
def _pem(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_jwk(certificate: x509.Certificate) -> RSAKey:
    public = certificate.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return RSAKey.import_key(public)


def _load_files(settings: IdentitySettings) -> IdaKeys:
    assert settings.mosip_ida_key_file is not None and settings.mosip_ida_certificate_file is not None
    private_key = serialization.load_pem_private_key(settings.mosip_ida_key_file.read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate(settings.mosip_ida_certificate_file.read_bytes())
    return _keys(private_key, certificate)


def _stored(session_factory: sessionmaker[Session], secret: str) -> IdaKeys:
    password = derive_key(secret, IDA_KEY_SEALING).hex().encode()
    for _attempt in range(2):
        with session_factory() as session:
            row = session.scalar(select(MosipIdaKey).where(MosipIdaKey.purpose == IDA_KEY_PURPOSE))
            if row is not None:
                private_key = serialization.load_pem_private_key(row.private_key.encode(), password=password)
                return _keys(private_key, x509.load_pem_x509_certificate(row.certificate.encode()))
            private_key, certificate = generate("Nation Stack IDA")
            session.add(
                MosipIdaKey(
                    purpose=IDA_KEY_PURPOSE,
                    private_key=private_key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.BestAvailableEncryption(password),
                    ).decode("ascii"),
                    certificate=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                )
            )
            try:
                session.commit()
            except IntegrityError:  # another worker stored one first: read theirs
                session.rollback()
                continue
            return _keys(private_key, certificate)
    raise RuntimeError("the MOSIP IDA key could not be stored nor read")


def generate(common_name: str, *, days: int = 3650) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A fresh RSA-2048 key and its self-signed certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=MINIMUM_RSA_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def forget_cached_keys() -> None:
    """Drop the keys read so far (a test that swaps them)."""
    with _cache_lock:
        _cache.clear()
