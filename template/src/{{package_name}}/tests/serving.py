"""The real server and CLI in subprocesses on the test database, every line they write captured to one file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ..conftest import PROJECT_ROOT, TEST_SECRET
from ..core.settings import Settings

PACKAGE = __package__.rpartition(".")[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stack_environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a server or CLI process on the test database and profile."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
        "COUNTRY_PROFILE": str(settings.country_profile),
        "NATION_STACK_LOCALE": "en",
        **extra,
    }


@contextmanager
def serving(environment: Mapping[str, str], log: Path) -> Iterator[str]:
    """`python -m <package> serve` on a free port, its stdout and stderr appended to `log`; its base URL."""
    port = free_port()
    with log.open("a") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and package
            [sys.executable, "-m", PACKAGE, "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=dict(environment),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def run_cli(environment: Mapping[str, str], log: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m <package> <arguments>`; its stdout and stderr appended to `log` (and returned); exit 0 expected."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and package
        [sys.executable, "-m", PACKAGE, *arguments],
        cwd=PROJECT_ROOT,
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    with log.open("a", encoding="utf-8") as output:
        output.write(done.stdout + done.stderr)
    assert done.returncode == 0, f"{' '.join(arguments)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done
