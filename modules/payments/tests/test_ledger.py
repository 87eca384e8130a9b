import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ....core.runtime import build_runtime
from ....core.settings import Settings
from .. import cli
from ..models import Entry, LedgerAccount, Transfer
from ..service import check_ledger


@pytest.fixture
def two_payments(link, pay) -> None:
    link("EXT-1")
    link("EXT-2")
    assert pay("REF-1", external_id="EXT-1").status_code == 201
    assert pay("REF-2", external_id="EXT-2").status_code == 201


def test_a_clean_ledger_has_no_violations(two_payments, session: Session) -> None:
    report = check_ledger(session=session)
    assert (report.transfers, report.entries) == (2, 4)
    assert report.balanced, report.violations


def test_an_unbalanced_entry_is_detected(two_payments, session: Session) -> None:
    transfer = session.scalars(select(Transfer).where(Transfer.client_reference == "REF-2")).one()
    session.add(Entry(transfer_id=transfer.id, account_id=transfer.payee_account_id, amount=1))
    session.commit()
    report = check_ledger(session=session)
    assert report.violations == ["transfer 'REF-2': entries sum to 1, not 0"]


def test_a_negative_no_negative_account_is_detected(two_payments, session: Session) -> None:
    # Balanced entries that still drive a beneficiary below zero.
    transfer = session.scalars(select(Transfer).where(Transfer.client_reference == "REF-1")).one()
    session.add_all(
        [
            Entry(transfer_id=transfer.id, account_id=transfer.payee_account_id, amount=-10 * transfer.amount),
            Entry(transfer_id=transfer.id, account_id=transfer.payer_account_id, amount=10 * transfer.amount),
        ]
    )
    session.commit()
    report = check_ledger(session=session)
    assert len(report.violations) == 1
    assert "account 'ext:EXT-1'" in report.violations[0]
    assert "negative" in report.violations[0]


def test_a_committed_transfer_without_entries_is_detected(two_payments, session: Session) -> None:
    transfer = session.scalars(select(Transfer).where(Transfer.client_reference == "REF-1")).one()
    for entry in session.scalars(select(Entry).where(Entry.transfer_id == transfer.id)):
        session.delete(entry)
    session.commit()
    assert check_ledger(session=session).violations == ["transfer 'REF-1': committed but has no entries"]


def test_ledger_check_command_exits_1_on_a_violation(
    two_payments, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "build_runtime", lambda: build_runtime(settings))
    monkeypatch.setenv("NATION_STACK_LOCALE", "en")  # else the profile's language (Japanese in Japan)
    runner = CliRunner()
    clean = runner.invoke(cli.app, ["ledger-check"])
    assert clean.exit_code == 0, clean.output
    assert "ledger balanced" in clean.output

    account = session.scalars(select(LedgerAccount).where(LedgerAccount.code == "ext:EXT-1")).one()
    transfer = session.scalars(select(Transfer).where(Transfer.client_reference == "REF-1")).one()
    session.add(Entry(transfer_id=transfer.id, account_id=account.id, amount=-1))
    session.commit()
    broken = runner.invoke(cli.app, ["ledger-check"])
    assert broken.exit_code == 1
    assert "REF-1" in broken.output
