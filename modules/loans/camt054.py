"""Repayments a bank received: the credits of its camt.054 (ISO 20022 BankToCustomerDebitCreditNotification).

`read` takes a whole file or refuses it (Unprocessable naming the element at fault) before anything
is written; `ingest` keeps each booked credit once (by the bank's entry reference: a file read
again changes nothing), matches it to a loan by the reference in its remittance information and
applies it as a repayment (`source="bank_credit"`). A credit for no known loan, in another
currency, to a loan not active or for more than the loan owes is kept `unmatched` with the
reason, never half-applied. Debits and entries not yet booked are not repayments and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from lxml import etree
from sqlalchemy import select

from ...core.errors import Problem, Unprocessable
from ...core.i18n import _
from ...core.money import to_minor
from . import book
from .models import BankCredit, Loan, LoanState
from .service import Context, repay

NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.054\.001\.[0-9]{2}")
LOAN_REFERENCE = re.compile(r"LN-[0-9A-F]{12}")
AMOUNT = re.compile(r"[0-9]{1,18}(\.[0-9]{1,5})?")  # ISO 20022 ActiveOrHistoricCurrencyAndAmount, not negative
MAX35, MAX140 = 35, 140
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
MATCHED, UNMATCHED = "matched", "unmatched"


@dataclass(frozen=True, slots=True)
class Credit:
    """One booked credit: the bank's reference for it, the amount in minor units, and the loan it names."""

    entry_reference: str
    amount: int
    currency: str
    booked_on: date
    loan_reference: str | None  # the LN-… reference found in the remittance information, else what was there
    remittance: str | None


def _refuse(where: str, problem: str) -> Unprocessable:
    return Unprocessable(f"camt.054: {where}: {problem}", kind="malformed-bank-file")


def read(message: bytes) -> list[Credit]:
    """The booked credits of a camt.054; Unprocessable naming what is wrong with a malformed one."""
    if b"<!DOCTYPE" in message:
        raise _refuse("DOCTYPE", _("a document type declaration is not allowed in a bank file"))
    try:
        root = etree.fromstring(message, _PARSER)
    except etree.XMLSyntaxError as error:
        raise _refuse("XML", _("not well-formed ({error})").format(error=error)) from None
    namespace = etree.QName(root).namespace or ""
    if etree.QName(root).localname != "Document" or not NAMESPACE.fullmatch(namespace):
        raise _refuse("Document", _("not a camt.054 (namespace '{namespace}')").format(namespace=namespace))
    n = "{" + namespace + "}"
    notification = root.find(f"{n}BkToCstmrDbtCdtNtfctn")
    if notification is None:
        raise _refuse("BkToCstmrDbtCdtNtfctn", _("the element is missing"))
    credits = []
    for number, entry in enumerate(notification.iter(f"{n}Ntry"), start=1):
        where = f"Ntry {number}"
        indicator = (entry.findtext(f"{n}CdtDbtInd") or "").strip()
        if indicator not in ("CRDT", "DBIT"):
            raise _refuse(f"{where}/CdtDbtInd", _("give CRDT or DBIT"))
        status = entry.find(f"{n}Sts")
        code = "" if status is None else (status.findtext(f"{n}Cd") or status.text or "").strip()
        if indicator != "CRDT" or code != "BOOK":
            continue
        credits.append(_credit(entry, n, where))
    return credits


def _credit(entry: etree._Element, n: str, where: str) -> Credit:
    reference = (entry.findtext(f"{n}AcctSvcrRef") or entry.findtext(f"{n}NtryRef") or "").strip()
    if not reference:
        raise _refuse(f"{where}/AcctSvcrRef", _("each credit needs AcctSvcrRef or NtryRef"))
    if len(reference) > MAX35:
        raise _refuse(f"{where}/AcctSvcrRef", _("at most {limit} characters").format(limit=MAX35))
    amount_element = entry.find(f"{n}Amt")
    currency = amount_element.get("Ccy", "") if amount_element is not None else ""
    text = (amount_element.text or "").strip() if amount_element is not None else ""
    if not re.fullmatch(r"[A-Z]{3}", currency) or not AMOUNT.fullmatch(text):
        raise _refuse(f"{where}/Amt", _("give an amount such as 1000.50 with its currency in Ccy"))
    try:
        amount = to_minor(text, currency)
    except ValueError as error:  # MoneyError, or a code ISO 4217 does not know
        raise _refuse(f"{where}/Amt", str(error)) from None
    if amount <= 0:
        raise _refuse(f"{where}/Amt", _("a credit is more than zero"))
    booked = (entry.findtext(f"{n}BookgDt/{n}Dt") or entry.findtext(f"{n}BookgDt/{n}DtTm") or "").strip()
    try:
        booked_on = date.fromisoformat(booked[:10])
    except ValueError:
        raise _refuse(f"{where}/BookgDt", _("give the booking date as YYYY-MM-DD")) from None
    remittance = None
    for path in (f"{n}NtryDtls/{n}TxDtls/{n}RmtInf/{n}Ustrd", f"{n}NtryDtls/{n}TxDtls/{n}Refs/{n}EndToEndId"):
        for found in entry.iterfind(path):
            if found.text and found.text.strip():
                remittance = remittance or found.text.strip()
                loan = LOAN_REFERENCE.search(found.text)
                if loan is not None:
                    return Credit(reference, amount, currency, booked_on, loan.group(), found.text.strip()[:MAX140])
    return Credit(reference, amount, currency, booked_on, None, remittance[:MAX140] if remittance else None)


@dataclass
class Ingested:
    """What a file did: credits read, applied, left unmatched, and already known from an earlier file."""

    read: int = 0
    matched: int = 0
    unmatched: int = 0
    already: int = 0
    credits: list[BankCredit] = field(default_factory=list)


def ingest(*, context: Context, message: bytes, actor: str) -> Ingested:
    """Keep and apply each new credit of the file; a malformed file is refused whole, writing nothing."""
    session = context.session
    credits = read(message)  # before anything is written
    result = Ingested(read=len(credits))
    for credit in credits:
        known = session.scalar(select(BankCredit).where(BankCredit.entry_reference == credit.entry_reference))
        if known is not None:
            result.already += 1
            result.credits.append(known)
            continue
        reason = _refusal(context, credit)
        if reason is None:
            try:
                repay(
                    context=context,
                    reference=credit.loan_reference or "",
                    amount=credit.amount,
                    payment_reference=f"bank:{credit.entry_reference}",
                    source="bank_credit",
                    actor=actor,
                    today=credit.booked_on,
                )
            except Problem as problem:  # repay refuses before it writes anything
                reason = problem.detail
        row = BankCredit(
            entry_reference=credit.entry_reference,
            loan_reference=credit.loan_reference or credit.remittance,
            amount=credit.amount,
            currency=credit.currency,
            booked_on=credit.booked_on,
            state=UNMATCHED if reason else MATCHED,
            reason=reason[:300] if reason else None,
        )
        session.add(row)
        session.flush()
        result.credits.append(row)
        if reason:
            result.unmatched += 1
        else:
            result.matched += 1
    return result


def _refusal(context: Context, credit: Credit) -> str | None:
    """Why `credit` cannot be applied to the loan it names, or None."""
    if credit.loan_reference is None:
        return _("no loan reference (LN-…) in the remittance information")
    loan = context.session.scalar(select(Loan).where(Loan.reference == credit.loan_reference))
    if loan is None:
        return _("no loan '{reference}'").format(reference=credit.loan_reference)
    if credit.currency != loan.currency:
        return _("the credit is in {currency}; loan {reference} is in {loan_currency}").format(
            currency=credit.currency, reference=loan.reference, loan_currency=loan.currency
        )
    if loan.state != LoanState.ACTIVE:
        return _("loan {reference} is {state}").format(reference=loan.reference, state=loan.state)
    owes = sum(book.balances(context.session, loan.id).values())
    if credit.amount > owes:
        return _("{amount} is more than loan {reference} owes ({outstanding})").format(
            amount=credit.amount, reference=loan.reference, outstanding=owes
        )
    return None
