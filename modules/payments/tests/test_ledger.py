import pytest
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from ....core.errors import Unprocessable
from ....core.models import utcnow
from ....core.money import Money
from ....core.runtime import build_runtime
from ....core.settings import Settings
from .. import cli
from ..ledger import Posting, account_balance, check_currency, deployment_money, post, post_many, post_selected
from ..models import Entry, LedgerAccount, Transfer
from ..service import check_ledger, ensure_beneficiary_account, ensure_funding_account


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


def _accounts(session: Session, currency: str) -> tuple[LedgerAccount, LedgerAccount, LedgerAccount]:
    source = ensure_funding_account(session=session, code="TREASURY", currency=currency)
    first = ensure_beneficiary_account(session=session, key="ext:A", currency=currency)
    second = ensure_beneficiary_account(session=session, key="ext:B", currency=currency)
    return source, first, second


def test_the_three_ways_to_post_write_the_same_balanced_entries(session: Session, country) -> None:
    currency = country.profile.currency
    source, first, second = _accounts(session, currency)
    post(session, Posting("ONE", "ext:A", source.id, first.id, Money(currency, 700), "h"))
    post_many(session, [Posting("MANY", "ext:B", source.id, second.id, Money(currency, 300), "h", "why")])
    selected = select(
        literal("SELECTED").label("reference"),
        literal("ext:B").label("beneficiary_key"),
        literal(first.id).label("payer"),
        literal(second.id).label("payee"),
        literal(200).label("amount"),
        literal(currency).label("currency"),
    ).subquery()
    post_selected(session, selected, request_hash="h", now=utcnow())
    session.commit()
    legs = {
        reference: sorted(session.execute(select(Entry.account_id, Entry.amount).where(Entry.transfer_id == id_)))
        for reference, id_ in session.execute(select(Transfer.client_reference, Transfer.id))
    }
    assert legs == {
        "ONE": sorted([(source.id, -700), (first.id, 700)]),
        "MANY": sorted([(source.id, -300), (second.id, 300)]),
        "SELECTED": sorted([(first.id, -200), (second.id, 200)]),
    }
    assert session.scalar(select(Transfer.reason).where(Transfer.client_reference == "MANY")) == "why"
    assert [account_balance(session=session, account_id=a.id) for a in (first, second)] == [500, 500]
    assert check_ledger(session=session).balanced


def test_post_rejects_a_debit_the_payer_cannot_cover_and_writes_no_entries(session: Session, country) -> None:
    currency = country.profile.currency
    _source, first, second = _accounts(session, currency)
    record = post(session, Posting("TOO-MUCH", "ext:B", first.id, second.id, Money(currency, 1), "h"))
    assert record.state == "rejected" and record.reason.startswith("insufficient funds: account ext:A holds")
    assert session.scalar(select(func.count()).select_from(Entry)) == 0


def test_a_currency_other_than_the_deployment_s_is_refused_naming_the_field() -> None:
    check_currency("KES", "KES")
    with pytest.raises(Unprocessable) as refused:
        check_currency("JPY", "KES")
    assert refused.value.field == "currency" and "KES" in refused.value.message
    with pytest.raises(Unprocessable) as unknown:
        deployment_money(5, "XAU", "KES")
    assert unknown.value.field == "currency"
    assert deployment_money(5, "KES", "KES") == Money("KES", 5)
