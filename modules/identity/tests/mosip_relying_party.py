"""A relying party using MOSIP's own client, `mosip-auth-sdk`, unchanged: run in the SDK's environment.

Not imported by the stack: `mosip_sdk.py` runs this file with the Python of a virtualenv holding only
the SDK and its dependencies (it pins `cryptography<44`, which the stack's own environment must not
be held to). Usage: `python mosip_relying_party.py authenticator-config.toml`, then one JSON request
a line on standard input, one JSON answer a line on standard output:

- `{"call": "auth" | "kyc" | "genotp", ...}`: the SDK's method of that name called with the other
  fields as its keyword arguments (`demographic_data` as MOSIP's demographic fields), answered
  `{"status": 200, "headers": {...}, "body": "<base64 of the bytes>"}`;
- `{"call": "decrypt", "answer": {the eKYC answer's JSON}}`: `{"identity": {...}}`, decrypted by the SDK;
- `{"call": "tamper"}`: from now on the SDK's signatures are altered in their last characters;
- `{"call": "sign_with", "key": "<PEM, PKCS#8>", "certificate": "<PEM>"}`: from now on the SDK signs
  properly, with that key, and names that certificate in the header's `x5c`.

A failure is answered `{"error": "<traceback>"}`. Only this file's answers go to standard output: the
SDK's logs go to standard error.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import tomllib
import traceback
from types import SimpleNamespace
from typing import Any

from cryptography import x509
from jwcrypto import jwk  # the SDK's own JWS library
from mosip_auth_sdk import MOSIPAuthenticator
from mosip_auth_sdk.models import DemographicsModel


def namespace(value: Any) -> Any:
    """The TOML file as the attribute tree the SDK reads its configuration from."""
    return SimpleNamespace(**{k: namespace(v) for k, v in value.items()}) if isinstance(value, dict) else value


def http(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "headers": {name.lower(): value for name, value in response.headers.items()},
        "body": base64.b64encode(response.content).decode("ascii"),
    }


def send(client: MOSIPAuthenticator, call: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The SDK's own method, its HTTP answer as it came."""
    if arguments.get("demographic_data") is not None:
        arguments["demographic_data"] = DemographicsModel.model_validate(arguments["demographic_data"])
    return http(getattr(client, call)(**arguments))


def tamper(client: MOSIPAuthenticator) -> None:
    sign = client.crypto_util.sign_auth_request_data

    def tampered(data: str) -> str:
        head, _empty, signature = sign(data).split(".")
        return f"{head}..{signature[:-6]}{'AAAAAA' if signature[-6:] != 'AAAAAA' else 'BBBBBB'}"

    client.crypto_util.sign_auth_request_data = tampered


def sign_with(client: MOSIPAuthenticator, original_sign: Any, key_pem: str, certificate_pem: str) -> None:
    client.crypto_util.sign_priv_key_jws = jwk.JWK.from_pem(key_pem.encode())
    client.crypto_util.sign_cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    client.crypto_util.sign_auth_request_data = original_sign


def main(config_path: str) -> None:
    answers = sys.stdout
    sys.stdout = sys.stderr  # anything the SDK prints stays out of the answers
    logger = logging.getLogger("mosip-auth-sdk")
    logger.addHandler(logging.StreamHandler(sys.stderr))
    logger.setLevel(logging.WARNING)
    with open(config_path, "rb") as file:
        config = namespace(tomllib.load(file))
    client = MOSIPAuthenticator(config=config, logger=logger)
    original_sign = client.crypto_util.sign_auth_request_data
    for line in sys.stdin:
        message = json.loads(line)
        try:
            match call := message.pop("call"):
                case "auth" | "kyc" | "genotp":
                    answer = send(client, call, message)
                case "decrypt":
                    answer = {"identity": client.decrypt_response(message["answer"])}
                case "tamper":
                    tamper(client)
                    answer = {}
                case "sign_with":
                    sign_with(client, original_sign, message["key"], message["certificate"])
                    answer = {}
                case _:
                    answer = {"error": f"unknown call {call!r}"}
        except Exception:
            answer = {"error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


if __name__ == "__main__":
    main(sys.argv[1])
