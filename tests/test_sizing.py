"""scripts/size: a population priced with the recorded benches (docs/sizing.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from .catalogue import REPO, catalogue
from .scripts import load_script

size_script = load_script("size")
KENYA = size_script.Population(55_000_000, 3_000_000, 1_700_000, 6_000_000, 2_000_000)


def run_entry(name: str, count: int, seconds: float) -> dict:
    return {"measured": {"name": name, "count": count, "seconds": seconds}, "baseline": {}, "ratio": 1.0}


def stored_entry(name: str, count: int, size: int) -> dict:
    return {"stored": {"name": name, "count": count, "size": size}}


def bench_run(entries: list[dict], *, count: int = 1_000, stack_cpu: float = 10.0, database_cpu: float = 5.0) -> dict:
    return {
        "measured_on": "2026-12-05",
        "count": count,
        "wall_seconds": 10.0,
        "stack_cpu_seconds": stack_cpu,
        "database_cpu_seconds": database_cpu,
        "peak_stack_memory_bytes": 512 * 1024**2,
        "entries": entries,
    }


# Round figures, so the arithmetic of the model can be checked by hand: each bench kept 1.5 cores
# busy (15 CPU seconds in 10 s), a third of them in the database.
RECORD = {
    "machine": {"cpus": 2},
    "benches": {
        "identity": {
            "PostgreSQL": bench_run(
                [
                    run_entry("identity.enrolment", 1_000, 1.0),
                    stored_entry("identity.storage", 1_000, 2_000_000),
                    run_entry("identity.authentication", 2_000, 2.0),
                    stored_entry("identity.authentication-storage", 2_000, 1_000_000),
                ]
            )
        },
        "payments": {
            "PostgreSQL": bench_run(
                [run_entry("payments.cycle", 4_000, 2.0), stored_entry("payments.storage", 1_000, 3_000_000)]
            )
        },
        "tax": {
            "PostgreSQL": bench_run(
                [run_entry("tax.assessment", 1_000, 0.5), stored_entry("tax.storage", 1_000, 4_000_000)]
            )
        },
        "loans": {
            "PostgreSQL": bench_run(
                [run_entry("loans.accrual", 10_000, 1.0), stored_entry("loans.accrual-storage", 10_000, 1_000_000)]
            )
        },
    },
}


def test_authentications_at_the_peak_price_the_api_by_hand() -> None:
    # 8.64 M a day = 100/s on average, 400/s at the peak; 1.5 cores / 1,000 per s = 1.5 ms each,
    # 1 ms of it in the stack, doubled for HTTP: 0.8 cores, run at 60 %.
    sizing = size_script.size(size_script.Population(1_000_000, 8_640_000), ("identity",), RECORD)
    assert sizing.peak_rates["authentication"] == pytest.approx(400)
    assert sizing.api_cores == pytest.approx(0.8 / 0.6, abs=0.01)
    assert sizing.api_replicas == 2  # never fewer: one may be drained
    assert sizing.worker_replicas == 1 and sizing.worker_cores == 0
    assert sizing.mosip_pods_for_the_same_authentications == 80
    # Storage: residents 2,000 B each (+3 % a year for 5 years), authentications 500 B each for 5 years.
    stored = (1_000_000 * 1.15 * 2_000 + 8_640_000 * 365 * 5 * 500) * 1.5
    assert sizing.storage_gib == pytest.approx(stored / 1024**3, abs=0.1)


def test_a_cycle_is_paid_by_the_worker_within_its_window() -> None:
    # 1.44 M payouts in 4 h = 100/s; the bench paid 1,000 in 2 s (its 4,000 are ledger rows).
    population = size_script.Population(2_000_000, payouts_per_cycle=1_440_000)
    sizing = size_script.size(population, ("payments",), RECORD)
    assert sizing.peak_rates["payout"] == pytest.approx(100)
    assert sizing.worker_cores == pytest.approx(100 * (1.5 / 500) * (2 / 3) / 0.6, abs=0.01)
    assert sizing.worker_replicas == 1


def test_more_people_need_more_of_everything() -> None:
    modules = tuple(catalogue())
    kenya = size_script.size(KENYA, modules, RECORD)
    india = size_script.size(
        size_script.Population(1_400_000_000, 80_000_000, 90_000_000, 75_000_000, 60_000_000), modules, RECORD
    )
    for figure in ("api_cores", "worker_cores", "database_cores", "database_memory_gib", "storage_gib"):
        assert getattr(india, figure) > getattr(kenya, figure), figure
    assert india.api_replicas >= kenya.api_replicas and india.worker_replicas > kenya.worker_replicas


def test_a_longer_payout_window_needs_fewer_workers() -> None:
    population = size_script.Population(10_000_000, payouts_per_cycle=50_000_000)
    quick = size_script.size(population, ("payments",), RECORD)
    slow = size_script.size(
        population, ("payments",), RECORD, replace(size_script.Assumptions(), payout_window_hours=24)
    )
    assert slow.worker_cores == pytest.approx(quick.worker_cores / 6, rel=0.01)


@pytest.mark.parametrize(
    ("population", "modules", "message"),
    [
        (size_script.Population(-1), ("identity",), "--residents must not be negative"),
        (size_script.Population(1_000), ("identity",), "identity is installed: give --authentications-per-day"),
        (size_script.Population(1_000, 10), ("identity", "parcels"), "no bench prices the module(s) parcels"),
        (size_script.Population(1_000, 10), (), "no modules"),
    ],
)
def test_an_input_the_model_cannot_size_is_named(population, modules, message: str) -> None:
    with pytest.raises(size_script.SizingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        size_script.size(population, modules, RECORD)


def test_a_module_without_a_recorded_bench_says_how_to_record_one() -> None:
    record = {**RECORD, "benches": {k: v for k, v in RECORD["benches"].items() if k != "tax"}}
    with pytest.raises(size_script.SizingError, match=r"no bench of tax: run scripts/size --measure"):
        size_script.size(KENYA, ("tax",), record)


def test_the_shipped_record_prices_every_module_of_the_catalogue() -> None:
    record = json.loads(size_script.RECORD.read_text(encoding="utf-8"))
    priced = size_script.costs(record, tuple(catalogue()))
    assert {module for module, _rate, _stored in size_script.OPERATIONS.values()} == set(catalogue())
    for operation, cost in priced.items():
        assert cost.rate > 0 and cost.stored_bytes > 0, operation
        assert cost.database == "PostgreSQL", f"{operation}: sizing is for the production database"


def test_the_command_sizes_a_deployment_from_its_answers(tmp_path: Path) -> None:
    answers = tmp_path / ".copier-answers.yml"
    answers.write_text("_commit: 0.9.0\nmodules:\n- identity\n- tax\n", encoding="utf-8")
    command = [sys.executable, str(REPO / "scripts" / "size"), "--answers", str(answers), "--format", "json"]
    population = ["--residents", "55000000", "--authentications-per-day", "3000000", "--returns-per-year", "6000000"]
    result = subprocess.run([*command, *population], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    sizing = json.loads(result.stdout)
    assert sizing["modules"] == ["identity", "tax"] and "payout" not in sizing["peak_rates"]
    assert sizing["api_replicas"] >= 2 and sizing["storage_gib"] > 0

    refused = subprocess.run([*command, "--residents", "55000000"], capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert refused.stderr.strip() == "size: identity is installed: give --authentications-per-day"


def test_the_nights_accrual_of_more_loans_needs_more_worker_cores_and_storage() -> None:
    few = size_script.size(size_script.Population(1_000_000, loans_outstanding=100_000), ("loans",), RECORD)
    many = size_script.size(size_script.Population(1_000_000, loans_outstanding=50_000_000), ("loans",), RECORD)
    assert many.worker_cores > few.worker_cores and many.storage_gib > few.storage_gib
    assert many.api_cores == few.api_cores == 0, "the accrual runs in the worker, not behind the API"
