"""Tax's series at /metrics (core/metrics.py): assessments issued."""

from __future__ import annotations

from prometheus_client import Counter

ASSESSMENTS = Counter(
    "nation_stack_tax_assessments_total", "Assessments issued (a return filed or amended), by kind", ["kind"]
)
