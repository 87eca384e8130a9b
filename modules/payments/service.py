"""Mapper, ledger and transfers: keyword-only functions that take domain values, flush but never commit."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

import phonenumbers
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...core import audit
from ...core.country import LoadedCountry
from ...core.errors import Conflict, NotFound, Problem, Unprocessable
from ...core.i18n import _
from ...core.models import utcnow
from ...core.ports import SectorTokens
from ...core.registry import Ports
from .domain import AccountDetails, Beneficiary, TransferOrder
from .ledger import Posting, account_balance, check_currency, post
from .models import (
    SYSTEM_OWNER,
    AccountKind,
    AccountLink,
    AccountLinkHistory,
    Entry,
    LedgerAccount,
    Transfer,
    TransferState,
)
from .schemas import REFERENCE_PATTERN

SECTOR = "payments"
PAYERS_ACCOUNT = "EXTERNAL_PAYERS"  # money arriving from outside the ledger (banks) enters here
_BANK_ACCOUNT = re.compile(r"^[0-9]{6,20}$")
_MOBILE_TYPES = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}


class TransferRejected(Problem):
    """A stored transfer that ended `rejected`; reported as 422 with the reason."""

    status = 422

    def __init__(self, transfer: Transfer) -> None:
        super().__init__(
            _("transfer '{reference}' was rejected: {reason}").format(
                reference=transfer.client_reference, reason=transfer.reason
            ),
            kind="transfer-rejected",
            client_reference=transfer.client_reference,
            state=transfer.state,
            reason=transfer.reason,
        )


# ---------------------------------------------------------------- beneficiaries


def beneficiary_key(*, session: Session, ports: Ports, beneficiary: Beneficiary) -> str:
    """`token:<sector token>` for a national ID (through the identity port), `ext:<id>` otherwise.

    A mandate is such a key, issued earlier by `mandate`.
    """
    if beneficiary.mandate is not None:
        return beneficiary.mandate
    if beneficiary.national_id is None:
        return f"ext:{beneficiary.external_id}"
    tokens = ports.get(SectorTokens)
    if tokens is None:
        raise Unprocessable(
            _(
                "national IDs need the identity module, which this deployment does not have; "
                "identify the beneficiary by external_id instead"
            ),
            kind="identity-unavailable",
            field="national_id",
        )
    return f"token:{tokens.token_for(session=session, national_id=beneficiary.national_id, sector=SECTOR)}"


def vid_key(*, session: Session, tokens: SectorTokens, vid: str, actor: str) -> str:
    """The beneficiary key of the person a virtual ID stands for: the key their national ID has, so a link
    made by either is found by either. Identity counts and audits the use, by `actor`; its Problem otherwise."""
    return f"token:{tokens.token_for_vid(session=session, vid=vid, sector=SECTOR, actor=actor)}"


# ---------------------------------------------------------------- mapper


@dataclass(frozen=True)
class LinkOutcome:
    link: AccountLink
    created: bool


def link_account(
    *,
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    beneficiary: Beneficiary,
    account: AccountDetails,
    actor: str,
) -> LinkOutcome:
    """Link a beneficiary to a financial account; re-linking replaces it and keeps the old one in history."""
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    kind, number, bank_code = normalise_account(account, phone_region=country.profile.phone_region)
    link = session.scalar(select(AccountLink).where(AccountLink.beneficiary_key == key))
    created = link is None
    if link is None:
        link = AccountLink(beneficiary_key=key, kind=kind, number=number, bank_code=bank_code)
        session.add(link)
        ensure_beneficiary_account(session=session, key=key, currency=country.profile.currency)
    elif (link.kind, link.number, link.bank_code) == (kind, number, bank_code):
        return LinkOutcome(link=link, created=False)
    else:
        session.add(
            AccountLinkHistory(
                beneficiary_key=key,
                kind=link.kind,
                number=link.number,
                bank_code=link.bank_code,
                valid_from=link.updated_at,
            )
        )
        link.kind, link.number, link.bank_code, link.updated_at = kind, number, bank_code, utcnow()
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="payments.account.linked" if created else "payments.account.relinked",
        subject=key,
        detail={"kind": kind, "number_ending": number[-4:], "bank_code": bank_code},
    )
    return LinkOutcome(link=link, created=created)


def resolve(*, session: Session, ports: Ports, beneficiary: Beneficiary) -> AccountLink:
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    link = session.scalar(select(AccountLink).where(AccountLink.beneficiary_key == key))
    if link is None:
        raise _not_linked(beneficiary)
    return link


def link_history(*, session: Session, key: str) -> list[AccountLinkHistory]:
    query = select(AccountLinkHistory).where(AccountLinkHistory.beneficiary_key == key)
    return list(session.scalars(query.order_by(AccountLinkHistory.id)))


def normalise_account(account: AccountDetails, *, phone_region: str) -> tuple[str, str, str | None]:
    """(kind, stored number, bank code), or Unprocessable naming the field and what is allowed."""
    if account.kind == AccountKind.IBAN:
        try:
            iban = IBAN(account.number)
        except SchwiftyException as error:
            raise Unprocessable(
                _("'{number}' is not a valid IBAN ({error})").format(number=account.number, error=error),
                field="account.number",
            ) from None
        return account.kind, iban.compact, account.bank_code
    if account.kind == AccountKind.MOBILE_MONEY:
        return account.kind, _mobile_number(account.number, phone_region), account.bank_code
    digits = account.number.replace(" ", "").replace("-", "")
    if not _BANK_ACCOUNT.fullmatch(digits):
        raise Unprocessable(
            _("'{number}' must be 6 to 20 digits for kind bank_account").format(number=account.number),
            field="account.number",
        )
    if account.bank_code is None:
        raise Unprocessable(
            _("is required for kind bank_account (the bank's code, e.g. its BIC)"), field="account.bank_code"
        )
    return account.kind, digits, account.bank_code


def _mobile_number(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise Unprocessable(
            _("'{number}' is not a phone number").format(number=number), field="account.number"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise Unprocessable(
            _("'{number}' is not a valid phone number (home region {region})").format(number=number, region=region),
            field="account.number",
        )
    if phonenumbers.region_code_for_number(parsed) != region:
        raise Unprocessable(
            _("'{number}' is not a {region} number; mobile money is paid in {region}").format(
                number=number, region=region
            ),
            field="account.number",
        )
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise Unprocessable(_("'{number}' is not a mobile number").format(number=number), field="account.number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# ---------------------------------------------------------------- ledger


def ledger_account(*, session: Session, code: str, owner: str, allow_negative: bool, currency: str) -> LedgerAccount:
    """The account `code`, created on first use; a concurrent first use creates it once and both get it.

    The insert runs in a savepoint: when another transaction created the account meanwhile (a unique
    violation, after PostgreSQL waited for it to commit), the savepoint is undone and the row read instead.
    """
    account = session.scalar(select(LedgerAccount).where(LedgerAccount.code == code))
    if account is not None:
        return account
    try:
        with session.begin_nested():
            account = LedgerAccount(code=code, owner=owner, allow_negative=allow_negative, currency=currency)
            session.add(account)
    except IntegrityError:
        account = session.scalars(select(LedgerAccount).where(LedgerAccount.code == code)).one()
    return account


def ensure_funding_account(*, session: Session, code: str, currency: str) -> LedgerAccount:
    """The government's source account (may go negative), created on first use."""
    account = ledger_account(session=session, code=code, owner=SYSTEM_OWNER, allow_negative=True, currency=currency)
    if account.currency != currency:
        raise Conflict(
            _("funding account {code} holds {held}, but this deployment pays in {currency}").format(
                code=code, held=account.currency, currency=currency
            )
        )
    return account


def ensure_beneficiary_account(*, session: Session, key: str, currency: str) -> LedgerAccount:
    return ledger_account(session=session, code=key, owner=key, allow_negative=False, currency=currency)


@dataclass(frozen=True)
class Balance:
    account: LedgerAccount
    amount: int


def balance(*, session: Session, ports: Ports, beneficiary: Beneficiary) -> Balance:
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    account = session.scalar(select(LedgerAccount).where(LedgerAccount.code == key))
    if account is None:
        raise NotFound(_("this beneficiary has no payments account; link one first"), field=beneficiary.field)
    return Balance(account=account, amount=account_balance(session=session, account_id=account.id))


@dataclass
class LedgerReport:
    transfers: int = 0
    entries: int = 0
    accounts: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.violations


def check_ledger(*, session: Session) -> LedgerReport:
    """Every transfer's entries sum to zero, only committed ones have entries, no account is wrongly negative."""
    report = LedgerReport(
        transfers=session.scalar(select(func.count()).select_from(Transfer)),
        entries=session.scalar(select(func.count()).select_from(Entry)),
        accounts=session.scalar(select(func.count()).select_from(LedgerAccount)),
    )
    total = func.sum(Entry.amount)
    unbalanced = session.execute(
        select(Transfer.client_reference, total)
        .join(Entry, Entry.transfer_id == Transfer.id)
        # the group key includes the reference so PostgreSQL accepts it in the select list
        .group_by(Transfer.id, Transfer.client_reference)
        .having(total != 0)
        .order_by(Transfer.id)
    )
    report.violations += [
        _("transfer '{reference}': entries sum to {amount}, not 0").format(reference=ref, amount=int(amount))
        for ref, amount in unbalanced
    ]
    entry_count = select(func.count()).where(Entry.transfer_id == Transfer.id).scalar_subquery()
    misfiled = session.execute(
        select(Transfer.client_reference, Transfer.state)
        .where(
            ((Transfer.state == TransferState.COMMITTED) & (entry_count == 0))
            | ((Transfer.state != TransferState.COMMITTED) & (entry_count > 0))
        )
        .order_by(Transfer.id)
    )
    report.violations += [
        _("transfer '{reference}': committed but has no entries").format(reference=ref)
        if state == TransferState.COMMITTED
        else _("transfer '{reference}': {state} but has entries").format(reference=ref, state=state)
        for ref, state in misfiled
    ]
    negative = session.execute(
        select(LedgerAccount.code, total)
        .join(Entry, Entry.account_id == LedgerAccount.id)
        .where(LedgerAccount.allow_negative.is_(False))
        .group_by(LedgerAccount.id, LedgerAccount.code)
        .having(total < 0)
        .order_by(LedgerAccount.id)
    )
    report.violations += [
        _("account '{code}': balance {balance} is negative but may not be").format(code=code, balance=int(held))
        for code, held in negative
    ]
    return report


def restore_problems(session: Session) -> list[str]:
    """What keeps a restored backup from serving (core/backup.py runs it on the scratch copy).

    The double-entry ledger holds per currency: `check_ledger`'s invariants (each transfer's entries
    sum to zero, only committed transfers have entries, no account wrongly negative), and every entry
    is on an account in its transfer's currency, so the zero sum is one of money, not of mixed units.
    """
    crossed = session.execute(
        select(Transfer.client_reference, Transfer.currency, LedgerAccount.currency)
        .join(Entry, Entry.transfer_id == Transfer.id)
        .join(LedgerAccount, LedgerAccount.id == Entry.account_id)
        .where(LedgerAccount.currency != Transfer.currency)
        .distinct()
        .order_by(Transfer.client_reference)
    )
    return check_ledger(session=session).violations + [
        _("transfer '{reference}' in {currency}: an entry on an account in {other}").format(
            reference=reference, currency=currency, other=other
        )
        for reference, currency, other in crossed
    ]


# ---------------------------------------------------------------- transfers


@dataclass(frozen=True)
class TransferOutcome:
    transfer: Transfer
    replayed: bool


def transfer(
    *,
    session: Session,
    ports: Ports,
    country: LoadedCountry,
    order: TransferOrder,
    funding_account: str,
    actor: str,
) -> TransferOutcome:
    """Pay a beneficiary from the funding account: received → reserved → committed, or rejected with a reason.

    Idempotent on the order's reference: the same order returns the original
    transfer; the same reference with a different order is a conflict.
    """
    currency = country.profile.currency
    check_currency(order.amount.currency, currency)
    key = beneficiary_key(session=session, ports=ports, beneficiary=order.beneficiary)
    request_hash = _request_hash(order, key)
    existing = get_transfer_or_none(session=session, client_reference=order.reference)
    if existing is not None:
        return _replay(existing, request_hash)
    if session.scalar(select(AccountLink.id).where(AccountLink.beneficiary_key == key)) is None:
        # 409: the order is well formed; the beneficiary's state (no account yet) is what stands in the way.
        raise Problem(
            _("no financial account is linked to this {field}; link one with POST /payments/accounts first").format(
                field=order.beneficiary.field
            ),
            kind="beneficiary-not-linked",
            status=409,
            field="beneficiary",
        )
    payer = ensure_funding_account(session=session, code=funding_account, currency=currency)
    payee = ensure_beneficiary_account(session=session, key=key, currency=currency)
    posting = Posting(order.reference, key, payer.id, payee.id, order.amount, request_hash)
    try:
        record = post(session, posting)
    except IntegrityError:
        # Another order with this reference committed first: answer as a replay.
        session.rollback()
        return _replay(get_transfer(session=session, client_reference=order.reference), request_hash)
    audit.record(
        session=session,
        actor=actor,
        action=f"payments.transfer.{record.state}",
        subject=key,
        detail={
            "client_reference": record.client_reference,
            "amount": record.amount,
            "currency": record.currency,
            "payer": payer.code,
            "reason": record.reason,
        },
    )
    return TransferOutcome(transfer=record, replayed=False)


def collect(
    *, session: Session, ports: Ports, country: LoadedCountry, order: TransferOrder, revenue_account: str, actor: str
) -> TransferOutcome:
    """Record money received from the order's beneficiary (a taxpayer) into the revenue account, once per reference."""
    check_currency(order.amount.currency, country.profile.currency)
    key = beneficiary_key(session=session, ports=ports, beneficiary=order.beneficiary)
    amount = order.amount
    digest = hashlib.sha256(f"collect|{order.reference}|{key}|{amount.amount}|{amount.currency}".encode()).hexdigest()
    existing = get_transfer_or_none(session=session, client_reference=order.reference)
    if existing is not None:
        if existing.request_hash != digest:
            raise Conflict(
                _("'{reference}' was already used for a different payment").format(reference=order.reference),
                field="reference",
            )
        return TransferOutcome(transfer=existing, replayed=True)
    payer = ensure_funding_account(session=session, code=PAYERS_ACCOUNT, currency=amount.currency)
    payee = ensure_beneficiary_account(session=session, key=revenue_account, currency=amount.currency)
    payee.owner = SYSTEM_OWNER
    record = post(session, Posting(order.reference, key, payer.id, payee.id, amount, digest))
    audit.record(
        session=session,
        actor=actor,
        action="payments.collection.committed",
        subject=key,
        detail={"reference": order.reference, "amount": amount.amount, "currency": amount.currency},
    )
    return TransferOutcome(transfer=record, replayed=False)


def get_transfer_or_none(*, session: Session, client_reference: str) -> Transfer | None:
    if not re.fullmatch(REFERENCE_PATTERN, client_reference):  # no transfer has it; never sent to the database
        return None
    return session.scalar(select(Transfer).where(Transfer.client_reference == client_reference))


def get_transfer(*, session: Session, client_reference: str) -> Transfer:
    found = get_transfer_or_none(session=session, client_reference=client_reference)
    if found is None:
        raise NotFound(_("no transfer '{reference}'").format(reference=client_reference), field="client_reference")
    return found


def _replay(existing: Transfer, request_hash: str) -> TransferOutcome:
    if existing.request_hash != request_hash:
        raise Conflict(
            _("'{reference}' was already used for a different transfer").format(reference=existing.client_reference),
            field="client_reference",
            client_reference=existing.client_reference,
        )
    return TransferOutcome(transfer=existing, replayed=True)


def _request_hash(order: TransferOrder, key: str) -> str:
    # The beneficiary is hashed as its key, never as a raw national ID: an
    # unkeyed hash of a 10-digit ID could be reversed by trying every number.
    canonical = json.dumps(
        {
            "client_reference": order.reference,
            "beneficiary": key,
            "amount": order.amount.amount,
            "currency": order.amount.currency,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _not_linked(beneficiary: Beneficiary) -> NotFound:
    return NotFound(_("no financial account is linked to this beneficiary"), field=beneficiary.field)


def unlink_account(*, session: Session, ports: Ports, beneficiary: Beneficiary, actor: str) -> AccountLinkHistory:
    """Remove a beneficiary's link (G2P Connect unlink); the account is kept in history."""
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    link = session.scalar(select(AccountLink).where(AccountLink.beneficiary_key == key))
    if link is None:
        raise _not_linked(beneficiary)
    history = AccountLinkHistory(
        beneficiary_key=key, kind=link.kind, number=link.number, bank_code=link.bank_code, valid_from=link.updated_at
    )
    session.add(history)
    session.delete(link)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="payments.account.unlinked",
        subject=key,
        detail={"kind": link.kind, "number_ending": link.number[-4:]},
    )
    return history


@dataclass(frozen=True)
class Resolution:
    link: AccountLink | None
    error: str | None


def resolve_many(*, session: Session, ports: Ports, beneficiaries: list[Beneficiary]) -> list[Resolution]:
    """Resolve each beneficiary on its own: one unknown person does not fail the batch."""
    keys: list[str | None] = []
    errors: list[str | None] = []
    for beneficiary in beneficiaries:
        try:
            keys.append(beneficiary_key(session=session, ports=ports, beneficiary=beneficiary))
            errors.append(None)
        except Problem as problem:
            keys.append(None)
            errors.append(problem.detail)
    wanted = [key for key in keys if key is not None]
    links = {
        link.beneficiary_key: link
        for link in session.scalars(select(AccountLink).where(AccountLink.beneficiary_key.in_(wanted)))
    }
    return [
        Resolution(link=links.get(key) if key else None, error=error or (None if key in links else "not linked"))
        for key, error in zip(keys, errors, strict=True)
    ]
