"""`python -m <package> worker` as a real process for tests: started, watched through its log, stopped or killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from ..conftest import PROJECT_ROOT, TEST_SECRET
from ..core.settings import Settings

PACKAGE = __package__.rpartition(".")[0]
EVERY_SECOND = "* * * * * *"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_env(settings: Settings, *, schedules: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment of a worker on the test database: fast heartbeats, only the named periodic jobs."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": TEST_SECRET,
        "ENVIRONMENT": "test",
        "COUNTRY_PROFILE": str(settings.country_profile),
        "NATION_STACK_LOCALE": "en",
        "WORKER_METRICS_PORT": "0",
        "JOB_SCHEDULES": json.dumps(schedules),
        "JOB_POLL_SECONDS": "0.2",
        "JOB_HEARTBEAT_SECONDS": "0.5",
        "JOB_STALLED_SECONDS": "3",
        **extra,
    }


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path) -> None:
        self.process, self.log = process, log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 90.0) -> Any:
        """Poll `condition` until it is truthy; fail with the worker's log when it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = condition()
            if found:
                return found
            if self.process.poll() is not None:
                raise AssertionError(f"the worker ended ({self.process.returncode}) before {what}:\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"no {what} within {timeout} s; the worker's log:\n{self.output()}")

    def wait_for_line(self, text: str, timeout: float = 90.0) -> None:
        self.wait_for(lambda: text in self.output(), f"log line {text!r}", timeout)

    def kill(self) -> None:
        """kill -9: no chance to finish or to tell the queue anything."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def running_worker(env: dict[str, str], log: Path, *arguments: str) -> Iterator[Worker]:
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and package
            [sys.executable, "-m", PACKAGE, "worker", *arguments],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    worker = Worker(process, log)
    try:
        yield worker
    finally:
        worker.stop()


def only_schedules(**wanted: str) -> dict[str, str]:
    """JOB_SCHEDULES: every periodic job off but those named (`core_audit_checkpoint=` for core.audit_checkpoint)."""
    from ..core.jobs import installed_jobs
    from ..core.worker import REMOVE_OLD_JOBS, RETRY_STALLED

    schedules = {job.name: "off" for job in installed_jobs() if job.schedule}
    schedules |= {RETRY_STALLED: "off", REMOVE_OLD_JOBS: "off"}
    return schedules | {name.replace("_", ".", 1): cron for name, cron in wanted.items()}


def empty_queue(engine: Engine) -> None:
    """Forget every queued job and worker (PostgreSQL): the `engine` fixture empties the models' tables only."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(
                text(
                    "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers, "
                    "procrastinate_workers CASCADE"
                )
            )
