"""Payments' series at /metrics (core/metrics.py): disbursement progress per cycle and chunk durations."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PAYOUTS = Counter(
    "nation_stack_payments_payouts_total",
    "Cycle payments committed to the ledger (a chunk's ledger step), by cycle",
    ["cycle"],
)
CHUNK_SECONDS = Histogram(
    "nation_stack_payments_chunk_duration_seconds",
    "Time to advance one chunk of a cycle, by step (ledger: pending to paid; bank: paid to sent or done)",
    ["step"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
