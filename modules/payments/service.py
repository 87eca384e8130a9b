"""Mapper, ledger and transfers: keyword-only functions that flush but never commit."""

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
from ...core.money import Money, MoneyError, minor_units
from ...core.ports import SectorTokens
from ...core.registry import Ports
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
from .schemas import REFERENCE_PATTERN, AccountIn, BeneficiaryRef, LinkRequest, TransferRequest

SECTOR = "payments"
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


def beneficiary_key(*, session: Session, ports: Ports, beneficiary: BeneficiaryRef) -> str:
    """`token:<sector token>` for a national ID (through the identity port), `ext:<id>` otherwise."""
    if beneficiary.national_id is None:
        return f"ext:{beneficiary.external_id}"
    tokens = ports.get(SectorTokens)
    if tokens is None:
        raise Unprocessable(
            "national_id: "
            + _(
                "national IDs need the identity module, which this deployment does not have; "
                "identify the beneficiary by external_id instead"
            ),
            kind="identity-unavailable",
        )
    return f"token:{tokens.token_for(session=session, national_id=beneficiary.national_id, sector=SECTOR)}"


# ---------------------------------------------------------------- mapper


@dataclass(frozen=True)
class LinkOutcome:
    link: AccountLink
    created: bool


def link_account(
    *, session: Session, ports: Ports, country: LoadedCountry, request: LinkRequest, actor: str
) -> LinkOutcome:
    """Link a beneficiary to a financial account; re-linking replaces it and keeps the old one in history."""
    key = beneficiary_key(session=session, ports=ports, beneficiary=request.beneficiary)
    kind, number, bank_code = normalise_account(request.account, phone_region=country.profile.phone_region)
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


def resolve(*, session: Session, ports: Ports, beneficiary: BeneficiaryRef) -> AccountLink:
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    link = session.scalar(select(AccountLink).where(AccountLink.beneficiary_key == key))
    if link is None:
        raise NotFound(_not_linked(beneficiary))
    return link


def link_history(*, session: Session, key: str) -> list[AccountLinkHistory]:
    query = select(AccountLinkHistory).where(AccountLinkHistory.beneficiary_key == key)
    return list(session.scalars(query.order_by(AccountLinkHistory.id)))


def normalise_account(account: AccountIn, *, phone_region: str) -> tuple[str, str, str | None]:
    """(kind, stored number, bank code), or Unprocessable naming the field and what is allowed."""
    if account.kind == AccountKind.IBAN:
        try:
            iban = IBAN(account.number)
        except SchwiftyException as error:
            raise Unprocessable(
                "account.number: "
                + _("'{number}' is not a valid IBAN ({error})").format(number=account.number, error=error)
            ) from None
        return account.kind, iban.compact, account.bank_code
    if account.kind == AccountKind.MOBILE_MONEY:
        return account.kind, _mobile_number(account.number, phone_region), account.bank_code
    digits = account.number.replace(" ", "").replace("-", "")
    if not _BANK_ACCOUNT.fullmatch(digits):
        raise Unprocessable(
            "account.number: "
            + _("'{number}' must be 6 to 20 digits for kind bank_account").format(number=account.number)
        )
    if account.bank_code is None:
        raise Unprocessable(
            "account.bank_code: " + _("is required for kind bank_account (the bank's code, e.g. its BIC)")
        )
    return account.kind, digits, account.bank_code


def _mobile_number(number: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        raise Unprocessable("account.number: " + _("'{number}' is not a phone number").format(number=number)) from None
    if not phonenumbers.is_valid_number(parsed):
        raise Unprocessable(
            "account.number: "
            + _("'{number}' is not a valid phone number (home region {region})").format(number=number, region=region)
        )
    if phonenumbers.region_code_for_number(parsed) != region:
        raise Unprocessable(
            "account.number: "
            + _("'{number}' is not a {region} number; mobile money is paid in {region}").format(
                number=number, region=region
            )
        )
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise Unprocessable("account.number: " + _("'{number}' is not a mobile number").format(number=number))
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


def account_balance(*, session: Session, account_id: int) -> int:
    # int(): PostgreSQL sums BIGINT as NUMERIC, which arrives as a Decimal.
    return int(session.scalar(select(func.coalesce(func.sum(Entry.amount), 0)).where(Entry.account_id == account_id)))


@dataclass(frozen=True)
class Balance:
    account: LedgerAccount
    amount: int


def balance(*, session: Session, ports: Ports, beneficiary: BeneficiaryRef) -> Balance:
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    account = session.scalar(select(LedgerAccount).where(LedgerAccount.code == key))
    if account is None:
        raise NotFound(_field(beneficiary) + ": " + _("this beneficiary has no payments account; link one first"))
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
    request: TransferRequest,
    funding_account: str,
    actor: str,
) -> TransferOutcome:
    """Pay a beneficiary from the funding account: received → reserved → committed, or rejected with a reason.

    Idempotent on `client_reference`: the same request returns the original
    transfer; the same reference with a different request is a conflict.
    """
    currency = country.profile.currency
    _check_currency(request.currency, currency)
    key = beneficiary_key(session=session, ports=ports, beneficiary=request.beneficiary)
    request_hash = _request_hash(request, key)
    existing = get_transfer_or_none(session=session, client_reference=request.client_reference)
    if existing is not None:
        return _replay(existing, request_hash)
    if session.scalar(select(AccountLink.id).where(AccountLink.beneficiary_key == key)) is None:
        # 409: the request is well formed; the beneficiary's state (no account yet) is what stands in the way.
        raise Problem(
            "beneficiary: "
            + _("no financial account is linked to this {field}; link one with POST /payments/accounts first").format(
                field=_field(request.beneficiary)
            ),
            kind="beneficiary-not-linked",
            status=409,
        )
    payer = ensure_funding_account(session=session, code=funding_account, currency=currency)
    payee = ensure_beneficiary_account(session=session, key=key, currency=currency)
    record = Transfer(
        client_reference=request.client_reference,
        request_hash=request_hash,
        state=TransferState.RECEIVED,
        beneficiary_key=key,
        payer_account_id=payer.id,
        payee_account_id=payee.id,
        amount=request.amount,
        currency=currency,
    )
    session.add(record)
    try:
        session.flush()
    except IntegrityError:
        # Another request with this reference committed first: answer as a replay.
        session.rollback()
        return _replay(get_transfer(session=session, client_reference=request.client_reference), request_hash)
    reason = _reserve(session, record, payer)
    if reason is None:
        record.state = TransferState.RESERVED
        session.add_all(
            [
                Entry(transfer_id=record.id, account_id=payer.id, amount=-record.amount),
                Entry(transfer_id=record.id, account_id=payee.id, amount=record.amount),
            ]
        )
        record.state = TransferState.COMMITTED
    else:
        record.state, record.reason = TransferState.REJECTED, reason
    record.completed_at = utcnow()
    session.flush()
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


def get_transfer_or_none(*, session: Session, client_reference: str) -> Transfer | None:
    if not re.fullmatch(REFERENCE_PATTERN, client_reference):  # no transfer has it; never sent to the database
        return None
    return session.scalar(select(Transfer).where(Transfer.client_reference == client_reference))


def get_transfer(*, session: Session, client_reference: str) -> Transfer:
    found = get_transfer_or_none(session=session, client_reference=client_reference)
    if found is None:
        raise NotFound("client_reference: " + _("no transfer '{reference}'").format(reference=client_reference))
    return found


def _reserve(session: Session, record: Transfer, payer: LedgerAccount) -> str | None:
    """Check the payer can be debited; None when reserved, else the reason for rejecting."""
    if payer.allow_negative:
        return None
    # Lock the payer so two transfers cannot both spend the same balance.
    locked = session.scalars(select(LedgerAccount).where(LedgerAccount.id == payer.id).with_for_update()).one()
    available = account_balance(session=session, account_id=locked.id)
    if available - record.amount >= 0:
        return None
    # Stored with the transfer and read back by every later caller, whatever their language: kept in English.
    return (
        f"insufficient funds: account {locked.code} holds {Money(record.currency, available)} and may not go "
        f"negative; {Money(record.currency, record.amount)} requested"
    )


def _replay(existing: Transfer, request_hash: str) -> TransferOutcome:
    if existing.request_hash != request_hash:
        raise Conflict(
            "client_reference: "
            + _("'{reference}' was already used for a different transfer").format(reference=existing.client_reference),
            client_reference=existing.client_reference,
        )
    return TransferOutcome(transfer=existing, replayed=True)


def _check_currency(requested: str, deployment: str) -> None:
    if requested == deployment:
        return
    try:
        minor_units(requested)
    except MoneyError as error:
        raise Unprocessable(
            "currency: "
            + _("{error}; this deployment pays in {currency} only").format(error=error, currency=deployment)
        ) from None
    raise Unprocessable(
        "currency: "
        + _("{requested} is not accepted; this deployment pays in {currency} only").format(
            requested=requested, currency=deployment
        )
    )


def _request_hash(request: TransferRequest, key: str) -> str:
    # The beneficiary is hashed as its key, never as a raw national ID: an
    # unkeyed hash of a 10-digit ID could be reversed by trying every number.
    canonical = json.dumps(
        {
            "client_reference": request.client_reference,
            "beneficiary": key,
            "amount": request.amount,
            "currency": request.currency,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _field(beneficiary: BeneficiaryRef) -> str:
    return "national_id" if beneficiary.national_id is not None else "external_id"


def _not_linked(beneficiary: BeneficiaryRef) -> str:
    return _field(beneficiary) + ": " + _("no financial account is linked to this beneficiary")


def unlink_account(*, session: Session, ports: Ports, beneficiary: BeneficiaryRef, actor: str) -> AccountLinkHistory:
    """Remove a beneficiary's link (G2P Connect unlink); the account is kept in history."""
    key = beneficiary_key(session=session, ports=ports, beneficiary=beneficiary)
    link = session.scalar(select(AccountLink).where(AccountLink.beneficiary_key == key))
    if link is None:
        raise NotFound(_not_linked(beneficiary))
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


def resolve_many(*, session: Session, ports: Ports, beneficiaries: list[BeneficiaryRef]) -> list[Resolution]:
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
