"""Bulk assessment (chunked, resumable), the AssessedIncome port and the CSV export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ....cli import app as stack_cli
from ....core.country import LoadedCountry
from ....core.db import make_session_factory
from ....core.errors import NotFound
from ....core.money import Money
from ....core.ports import AssessedIncome
from ....core.registry import Ports
from .. import bulk, service
from ..models import AccountEntry, Assessment, EntryKind
from ..parties import NewTaxpayer
from .helpers import a_taxpayer, a_year, a_year_before_the_law

runner = CliRunner()


@pytest.fixture(autouse=True)
def deployment_settings(cli_on_test_database: Path) -> None:
    """The CLI on the test database and profile, speaking English whatever the profile's locale."""


def filed(engine: Engine, country: LoadedCountry, incomes: list[int], prefix: str = "BULK") -> list[str]:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        tins = [a_taxpayer(session, country, external_id=f"{prefix}-{i}").tin for i in range(len(incomes))]
        bulk.load_returns(
            session=session,
            country=country,
            year=a_year(country),
            rows=list(zip(tins, incomes, strict=True)),
            actor="test",
        )
    return tins


def test_assess_all_in_chunks_then_nothing_left(engine: Engine, country: LoadedCountry, session: Session) -> None:
    year = a_year(country)
    top = service.income_tax_law(country=country).scale_in_force(year)[-1].threshold
    incomes = [0, 1, top - 1, top, top * 5 + 12_345]
    filed(engine, country, incomes)
    seen: list[int] = []
    result = bulk.assess_all(
        session_factory=make_session_factory(engine),
        country=country,
        year=year,
        actor="t",
        chunk_size=2,
        progress=seen.append,
    )
    assert (result.assessed, result.chunks, seen) == (5, 3, [2, 2, 1])
    law = service.income_tax_law(country=country)
    rows = session.execute(select(Assessment.tax_due, Assessment.taxable).order_by(Assessment.return_id)).all()
    expected = [law.calculate(income=i, year=year) for i in incomes]
    assert [tuple(r) for r in rows] == [(c.tax_due, c.taxable) for c in expected]
    assert result.tax_due == sum(c.tax_due for c in expected)
    # One tax entry per return; a profile with a late-filing penalty also books one for each
    # (these returns are filed today for a year whose deadline has passed).
    assessed = select(func.count()).select_from(AccountEntry).where(AccountEntry.kind == EntryKind.ASSESSED)
    assert session.scalar(assessed) == 5
    again = bulk.assess_all(session_factory=make_session_factory(engine), country=country, year=year, actor="t")
    assert again.assessed == 0


def test_the_assessed_income_port(engine: Engine, country: LoadedCountry, session: Session) -> None:
    year = a_year(country)
    tins = filed(engine, country, [1_000_000, 2_000_000], prefix="2934567")
    bulk.assess_all(session_factory=make_session_factory(engine), country=country, year=year, actor="t")

    class ExternalIdTokens:
        """Stands in for identity: here a taxpayer registered by external ID is that ID's person."""

        def token_for(self, *, session: Session, national_id: str, sector: str) -> str:
            if national_id == "0000000000":
                raise NotFound("national_id: nobody")
            return f"tok-{national_id}"

    without_identity = bulk.TaxAssessedIncome(tokens=None)  # as when identity is not installed
    incomes = without_identity.incomes_for(session=session, national_ids=["2934567-0", "2934567-1", "9"], year=year)
    currency = country.profile.currency
    assert incomes == {"2934567-0": Money(currency, 1_000_000), "2934567-1": Money(currency, 2_000_000)}
    assert without_identity.incomes_for(session=session, national_ids=["2934567-0"], year=year + 1) == {}

    party = NewTaxpayer(kind="individual", name="By token", national_id="5555555555")

    class OnePorts:
        def get(self, port: type) -> object:
            return ExternalIdTokens()

    tin = service.register_taxpayer(session=session, party=party, country=country, ports=OnePorts(), actor="t")
    bulk.load_returns(session=session, country=country, year=year, rows=[(tin.tin, 777)], actor="t")
    session.commit()
    bulk.assess_all(session_factory=make_session_factory(engine), country=country, year=year, actor="t")
    with_identity = bulk.TaxAssessedIncome(tokens=ExternalIdTokens())
    found = with_identity.incomes_for(session=session, national_ids=["5555555555", "0000000000"], year=year)
    assert found == {"5555555555": Money(currency, 777)}
    assert tins


def test_the_module_provides_the_port(ports: Ports) -> None:
    assert isinstance(ports.get(AssessedIncome), bulk.TaxAssessedIncome)


def test_cli_assess_all_and_export(engine: Engine, country: LoadedCountry, tmp_path: Path) -> None:
    year = a_year(country)
    tins = filed(engine, country, [5_000_000, 6_000_000], prefix="CLI")
    result = runner.invoke(stack_cli, ["tax", "assess-all", "--year", str(year), "--chunk", "1"])
    assert result.exit_code == 0, result.output
    assert f"assessed 2 returns for {year} in 2 chunks" in result.output
    out = tmp_path / "incomes.csv"
    exported = runner.invoke(stack_cli, ["tax", "export-incomes", "--year", str(year), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted((r["tin"], int(r["income"])) for r in rows) == sorted(zip(tins, [5_000_000, 6_000_000], strict=True))
    assert {r["reference"] for r in rows} == {"external:CLI-0", "external:CLI-1"}
    before = a_year_before_the_law(country)
    refused = runner.invoke(stack_cli, ["tax", "assess-all", "--year", str(before)])
    assert refused.exit_code == 1
    assert "in force" in refused.output


def test_bench_runs_and_cleans_up(engine: Engine, session: Session) -> None:
    result = runner.invoke(stack_cli, ["tax", "bench", "--count", "300", "--chunk", "100"])
    assert result.exit_code == 0, result.output
    assert "tax.assessment" in result.output and "tax.raw-insert" in result.output
    assert session.scalar(select(func.count()).select_from(Assessment)) == 0
