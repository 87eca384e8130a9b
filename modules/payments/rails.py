"""Payment rails behind one protocol: submit a pain.001, get back whatever the bank answered at once.

`SimulatedBank` answers every pain.001 with a pain.002 and a camt.054 at once,
rejecting a configurable, seeded share of payments; its answer depends only on
the message and the seed, so re-sending a message after a crash gets the same
answer (as a real bank's duplicate check on MsgId would). `FileRail` writes the
pain.001 to an outbox folder for a bank's file channel and answers nothing: the
bank's pain.002 and camt.054 files are ingested later (`payments ingest`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from . import iso20022
from .config import PaymentsSettings

# Reason codes (ISO 20022 ExternalStatusReason1Code) the simulated bank draws from:
# MS03 is a technical failure worth retrying; AC04 and AC01 are final.
RETRYABLE_REASONS = frozenset({"MS03", "TM01", "AM23"})
SIMULATED_REASONS = ("MS03", "AC04", "AC01")


class PaymentRail(Protocol):
    name: str

    def submit(self, message: bytes) -> list[bytes]:
        """Deliver a validated pain.001; return the status reports (pain.002, camt.054) available at once."""
        ...


class SimulatedBank:
    name = "simulated"

    def __init__(self, *, failure_rate: float = 0.0, seed: int = 2020) -> None:
        self.failure_rate = failure_rate
        self.seed = seed

    def outcome(self, msg_id: str, end_to_end_id: str) -> str | None:
        """None when the payment is accepted, else the rejection's reason code."""
        return self.outcomes(msg_id)(end_to_end_id)

    def outcomes(self, msg_id: str) -> Callable[[str], str | None]:
        """`outcome` for the payments of one message: its hash prefix and threshold are worked out once."""
        if self.failure_rate <= 0:
            return lambda _end_to_end_id: None
        prefix = f"{self.seed}:{msg_id}:".encode()
        threshold = self.failure_rate * 2**48  # a draw of 48 bits below it is a rejection

        def decide(end_to_end_id: str) -> str | None:
            digest = hashlib.blake2b(prefix + end_to_end_id.encode(), digest_size=8).digest()
            if int.from_bytes(digest[:6]) >= threshold:
                return None
            return SIMULATED_REASONS[digest[6] % len(SIMULATED_REASONS)]

        return decide

    def submit(self, message: bytes) -> list[bytes]:
        initiation = iso20022.scan_pain001(message)
        outcome = self.outcomes(initiation.msg_id)
        currency = initiation.currency
        statuses, bookings = [], []
        for e2e, amount in initiation.transfers:
            reason = outcome(e2e)
            if reason is None:
                statuses.append(iso20022.TransactionStatus(e2e, "ACCP", None))
                bookings.append(iso20022.Booking(e2e, amount, currency, credit=True, booked=True))
            else:
                statuses.append(iso20022.TransactionStatus(e2e, "RJCT", reason))
        report = iso20022.pain002(
            msg_id=f"STS-{initiation.msg_id}"[:35], original_msg_id=initiation.msg_id, statuses=statuses
        )
        notification = iso20022.camt054(
            msg_id=f"NTF-{initiation.msg_id}"[:35],
            account="SIMULATED-CLEARING",
            currency=initiation.currency,
            bookings=bookings,
        )
        return [report, notification]


class FileRail:
    name = "file"

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    def submit(self, message: bytes) -> list[bytes]:
        initiation = iso20022.read_pain001(message, validate=False)
        self.outbox.mkdir(parents=True, exist_ok=True)
        target = self.outbox / f"{initiation.msg_id}.pain001.xml"
        partial = target.with_suffix(".part")
        partial.write_bytes(message)
        partial.replace(target)  # the bank's pick-up never sees half a file
        return []


def rail_from_settings(settings: PaymentsSettings) -> PaymentRail:
    if settings.rail == "file":
        return FileRail(settings.outbox)
    return SimulatedBank(failure_rate=settings.simulated_failure_rate, seed=settings.simulated_seed)
