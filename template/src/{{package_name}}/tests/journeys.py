"""A whole journey through the installed modules, against the real server and CLI (tests/serving.py).

Each module that takes part ships `tests/journey.py` with `run(journey: Journey) -> None`: its
main journey through the HTTP API and its CLI (identity enrols and authenticates with an OTP,
payments links an account and pays a cycle, tax assesses a return). The core runs them in module
name order (the order the registry installs them in); a step reads what earlier ones left in
`journey.facts` (identity leaves `national_id`) and falls back to its stand-alone path without
it. Every step lists the personal data it used in `journey.personal` and the one-time codes in
`journey.codes`, so the observability tests can prove none of it reached a log line, the log
events it caused in `journey.events`, and the series it moved in `journey.moves`, so they can
prove the logs and the metrics saw it.

Modules are found through the registry and loaded by name, so the core imports none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from ..core.approvals import Signatory, required_for
from ..core.db import make_session_factory
from ..core.registry import installed_modules
from ..core.runtime import Runtime
from ..core.security import PARTNER_KEY_ACTION, approve_partner_key, issue_partner_key
from .serving import run_cli

JOURNEY_MODULE = "tests.journey"


@dataclass(frozen=True)
class Partner:
    id: int
    headers: dict[str, str]


@dataclass
class Journey:
    http: httpx.Client  # the real server's base URL is its base_url
    engine: Engine  # the database the server runs on (a step may read what a gateway would, the outbox)
    runtime: Runtime
    environment: dict[str, str]  # a CLI process's environment, on the same database
    log: Path  # where the server's and the CLI's output are captured
    personal: set[str] = field(default_factory=set)  # what must never reach a log line
    codes: set[str] = field(default_factory=set)  # one-time codes (digits: searched as whole numbers)
    moves: set[str] = field(default_factory=set)  # series (`name{label="value",...}`) the steps moved
    events: set[str] = field(default_factory=set)  # log events the steps caused (server's or CLI's lines)
    facts: dict[str, Any] = field(default_factory=dict)  # what a step leaves for the next: national_id
    calls: int = 0  # API calls made through `call`
    _partners: int = 0

    def partner(self, *scopes: str) -> Partner:
        """A partner key with `scopes`, approved by test operators when it holds a money scope (four-eyes)."""
        self._partners += 1
        required = required_for(self.runtime.settings.approvals_required, PARTNER_KEY_ACTION)
        with make_session_factory(self.engine).begin() as session:
            issued = issue_partner_key(session=session, name=f"Journey partner {self._partners}", scopes=scopes)
            for number in range(required if issued.partner.awaiting_approval else 0):
                approver = Signatory.operator(f"journey-approver-{number + 1}")
                approve_partner_key(session=session, partner_id=issued.partner.id, approver=approver, required=required)
            return Partner(id=issued.partner.id, headers={"X-API-Key": issued.key})

    def cli(self, *arguments: str) -> str:
        """Run a CLI command on the journey's database; its output is captured with the server's. Its stdout."""
        return run_cli(self.environment, self.log, *arguments).stdout

    def call(self, method: str, url: str, *, expect: int | tuple[int, ...] = (200, 201), **options: Any) -> Any:
        """An API call that must answer `expect`; its JSON body."""
        response = self.http.request(method, url, **options)
        self.calls += 1
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, f"{method} {url}: {response.status_code} {response.text}"
        return response.json()


JourneyStep = Callable[[Journey], None]


def journey_steps() -> list[tuple[str, JourneyStep]]:
    """Each installed module's journey step, in installation order; modules without one take no part."""
    package = __package__.rpartition(".")[0]
    steps = []
    for module in installed_modules():
        name = f"{package}.modules.{module.name}.{JOURNEY_MODULE}"
        try:
            loaded = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise
            continue
        steps.append((module.name, loaded.run))
    return steps


def run_journey(journey: Journey) -> list[str]:
    """Every installed module's step, then the core's own (an audit checkpoint); the modules that took part."""
    taken = []
    for name, step in journey_steps():
        step(journey)
        taken.append(name)
    journey.cli("audit", "checkpoint")
    journey.cli("audit", "verify")
    journey.moves.add("nation_stack_audit_checkpoint_age_seconds")
    return taken
