"""MOSIP's relying-party client, `mosip-auth-sdk`, in a virtualenv of its own, driven from the tests.

The SDK pins `cryptography<44`. Installed beside the stack it would hold the stack's cryptography back,
and with it joserfc and Authlib, which the core's OpenID Connect sign-in needs newer. So it never
enters the stack's environment: `sdk_python()` builds a virtualenv holding only the SDK, once per
machine, in the tests' cache folder (tests/cache.py), and every later run reuses it, offline too.
`RelyingParty` runs `mosip_relying_party.py` in it, one process per relying party, and speaks JSON
lines with it; the HTTP answers come back byte for byte, so a test checks their signatures itself.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import select
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ....tests.cache import cache_folder

SDK = "mosip-auth-sdk==0.5.4"
CLIENT = Path(__file__).with_name("mosip_relying_party.py")
ANSWER_SECONDS = 120  # a hang in the client or the server fails the test instead of holding the run


class SdkUnavailable(Exception):
    """The SDK's virtualenv could not be built; the message says why and what to do."""


def sdk_python() -> Path:
    """The interpreter of the SDK's virtualenv, built on first use.

    Two test workers asking at once take turns on a lock file: the second finds the first's
    environment complete. A build that was interrupted left no `.complete` marker and is redone.
    """
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256("\n".join([sys.version, SDK]).encode()).hexdigest()[:16]
    home = folder / f"mosip-auth-sdk-{digest}"
    python = home / "bin" / "python"
    with (folder / f"{home.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / ".complete").is_file():
            venv.EnvBuilder(with_pip=True, clear=True).create(home)
            install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", SDK]
            result = subprocess.run(install, capture_output=True, text=True, timeout=900, check=False)  # noqa: S603
            if result.returncode != 0:
                raise SdkUnavailable(
                    f"could not install {SDK} into {home} ({result.stderr.strip()[-2000:]}); the MOSIP tests need "
                    "the package registry once per machine, or NATION_STACK_CACHE naming a folder that holds it"
                )
            (home / ".complete").write_text(SDK, encoding="utf-8")
    return python


@dataclass(frozen=True)
class Answer:
    """An HTTP answer the SDK received, as it came."""

    status_code: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class RelyingParty:
    """A relying party running MOSIP's client, configured from `config` (the SDK's TOML file).

    Its calls take the SDK's own keyword arguments; `demographic_data` is MOSIP's demographic fields
    as JSON (`{"name": [{"language": "eng", "value": ...}], "dob": "1985/04/12"}`).
    """

    def __init__(self, python: Path, config: Path, log: Path) -> None:
        self.log = log
        with log.open("ab") as errors:
            self.process = subprocess.Popen(  # noqa: S603 - the SDK's interpreter, our script
                [str(python), str(CLIENT), str(config)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )

    def auth(self, **arguments: Any) -> Answer:
        return self._http("auth", arguments)

    def kyc(self, **arguments: Any) -> Answer:
        return self._http("kyc", arguments)

    def genotp(self, **arguments: Any) -> Answer:
        return self._http("genotp", arguments)

    def decrypt_response(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The eKYC answer's identity, decrypted by the SDK with the partner's key."""
        return self._call("decrypt", {"answer": answer})["identity"]

    def tamper_signatures(self) -> None:
        """The SDK's signatures altered in their last characters from now on."""
        self._call("tamper", {})

    def sign_with(self, key_pem: bytes, certificate_pem: bytes) -> None:
        """Proper signatures from now on, by `key_pem` (PKCS#8), naming `certificate_pem` in the header."""
        self._call("sign_with", {"key": key_pem.decode("ascii"), "certificate": certificate_pem.decode("ascii")})

    def close(self) -> None:
        stdin: IO[str] | None = self.process.stdin
        if stdin is not None:
            stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _http(self, call: str, arguments: dict[str, Any]) -> Answer:
        answer = self._call(call, arguments)
        return Answer(answer["status"], answer["headers"], base64.b64decode(answer["body"]))

    def _call(self, call: str, arguments: dict[str, Any]) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"call": call, **arguments}) + "\n")
        stdin.flush()
        ready, _, _ = select.select([stdout], [], [], ANSWER_SECONDS)
        line = stdout.readline() if ready else ""
        if not line:
            raise AssertionError(f"MOSIP's client gave no answer to {call!r}: {self._errors()}")
        answer = json.loads(line)
        if "error" in answer:
            raise AssertionError(f"MOSIP's client failed at {call!r}:\n{answer['error']}\n{self._errors()}")
        return answer

    def _errors(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]
