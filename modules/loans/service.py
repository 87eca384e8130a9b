"""Products, applications and their decisions, disbursement and repayment: domain values in, domain problems out.

Money moves through the payments ledger (the `Disbursements` port, with the mandate the
application obtained) or, without payments, through the module's own rail (rails.py); what the
borrower owes is booked in the loan book (book.py). A payment refused by the ledger or the rail
leaves nothing written: the caller's transaction is rolled back with the problem.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import approvals, audit
from ...core.approvals import Signatory
from ...core.country import LoadedCountry
from ...core.eligibility import INCOME, resident_attributes
from ...core.errors import Conflict, NotFound, Problem, Unprocessable
from ...core.i18n import _
from ...core.models import utcnow
from ...core.money import Money, Rounding, to_minor
from ...core.ports import AssessedIncome, Disbursements, ResidentRegistry, SectorTokens
from ...core.registry import Ports
from . import book
from .config import LoansCountry, LoansSettings
from .models import Application, ApplicationState, Instalment, Loan, LoanState, Position, Product
from .rails import RAIL, payee_of_account
from .schedule import Due, allocate, build_schedule
from .terms import COMPONENTS, Component, Terms

SECTOR = "loans"
WAIVABLE: tuple[Component, ...] = ("principal", "interest", "fees")  # never penalties: charged later, owed in full
APPROVE_ACTION = "loans.application.approve"
# Unpaid and not yet due: what an instalment still owes of each component.
OWED_COLUMNS: Mapping[Component, tuple[str, str]] = {
    "fees": ("fees", "paid_fees"),
    "penalties": ("penalties", "paid_penalties"),
    "interest": ("interest", "paid_interest"),
    "principal": ("principal", "paid_principal"),
}


@dataclass(frozen=True)
class Context:
    """What every service call needs from the deployment."""

    session: Session
    country: LoadedCountry
    ports: Ports
    settings: LoansSettings

    @property
    def currency(self) -> str:
        return self.country.profile.currency

    @property
    def rounding(self) -> Rounding:
        section: LoansCountry = self.country.section("loans")
        return section.rounding.for_currency(self.currency)


# ---------------------------------------------------------------- products


def create_product(*, context: Context, code: str, name: str, terms: Terms, actor: str) -> Product:
    session = context.session
    inconsistent = terms.inconsistencies()
    if inconsistent:
        raise Conflict("terms." + "; terms.".join(inconsistent))
    if session.scalar(select(Product.id).where(Product.code == code)) is not None:
        raise Conflict("code: " + _("a product '{code}' already exists").format(code=code))
    if any(rule.attribute == INCOME for rule in terms.eligibility) and not context.ports.provides(AssessedIncome):
        raise Unprocessable(
            "eligibility: " + _("rules on assessed_income need the tax module, which this deployment does not have"),
            kind="tax-not-installed",
        )
    product = Product(
        code=code, name=name, currency=context.currency, terms=terms.model_dump(mode="json"), made_by=actor
    )
    session.add(product)
    session.flush()
    audit.record(session=session, actor=actor, action="loans.product.created", subject=f"loan-product:{code}")
    return product


def get_product(*, session: Session, code: str) -> Product:
    product = session.scalar(select(Product).where(Product.code == code))
    if product is None:
        raise NotFound("product: " + _("no loan product '{code}'").format(code=code))
    return product


def terms_of(stored: Mapping[str, Any]) -> Terms:
    return Terms.model_validate(stored)


def list_products(*, session: Session) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.code)))


# ---------------------------------------------------------------- applications


@dataclass(frozen=True)
class LoanRequest:
    """An application as the services take it, whoever sends it (partner, officer, resident, CLI)."""

    product: str
    principal: int
    national_id: str | None = None
    external_id: str | None = None
    consent: str | None = None  # the reference of the resident's eKYC consent, with a national ID
    account: str | None = None  # the account to pay, on the module's own rail (no payments module)
    channel: str = "api"

    def __post_init__(self) -> None:
        if (self.national_id is None) == (self.external_id is None):
            raise Unprocessable(_("an applicant is identified by exactly one of national_id or external_id"))
        if self.national_id is not None and not self.consent:
            raise Unprocessable(
                "consent: "
                + _("an applicant by national ID must consent to the eKYC check; give the consent's reference")
            )


def apply(*, context: Context, request: LoanRequest, submitter: Signatory, today: date) -> Application:
    """Check an application and decide it: rejected with reasons, held for a second officer, or approved and paid.

    The submitter is the maker four-eyes counts: they never approve their own held application.
    """
    session, actor = context.session, submitter.actor
    product = get_product(session=session, code=request.product)
    if not product.active:
        raise Conflict("product: " + _("loan product '{code}' is withdrawn").format(code=product.code))
    terms = terms_of(product.terms)
    borrower, attributes, region = _applicant(context=context, request=request, actor=actor, today=today)
    reasons = [reason for rule in terms.eligibility if (reason := _rule_reason(rule, attributes)) is not None]
    limit = _credit_limit(context=context, request=request, attributes=attributes)
    reasons += _amount_reasons(request.principal, terms, limit, context.currency)
    payee, payee_reason = _payee(context=context, request=request)
    if payee_reason:
        reasons.append(payee_reason)
    application = Application(
        reference=f"LA-{secrets.token_hex(6).upper()}",
        product_code=product.code,
        borrower=borrower,
        payee=payee or "",
        region=region,
        principal=request.principal,
        currency=context.currency,
        credit_limit=limit,
        consent=request.consent,
        channel=request.channel,
        state=ApplicationState.REJECTED if reasons else ApplicationState.APPROVED,
        reasons=reasons,
        made_by=submitter.person,
    )
    if not reasons and request.principal > four_eyes_threshold(context):
        application.state = ApplicationState.AWAITING_APPROVAL
    session.add(application)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="loans.application.submitted",
        subject=f"loan-application:{application.reference}",
        detail={
            "product": product.code,
            "principal": request.principal,
            "state": application.state,
            "reasons": reasons,
        },
    )
    if application.state == ApplicationState.APPROVED:
        application.decided_by, application.decided_at = actor, utcnow()
        disburse(context=context, application=application, actor=actor, today=today)
    return application


def four_eyes_threshold(context: Context) -> int:
    return to_minor(context.settings.four_eyes_above, context.currency)


def _applicant(
    *, context: Context, request: LoanRequest, actor: str, today: date
) -> tuple[str, dict[str, Any], str | None]:
    """The borrower's key, what the rules may read about them, and their region."""
    if request.external_id is not None:
        return f"external:{request.external_id}", {}, None
    registry, tokens = context.ports.get(ResidentRegistry), context.ports.get(SectorTokens)
    if registry is None or tokens is None:
        raise Unprocessable(
            "national_id: "
            + _("national IDs need the identity module, which this deployment does not have; apply with external_id"),
            kind="identity-unavailable",
        )
    assert request.national_id is not None and request.consent is not None  # LoanRequest checks both
    resident = registry.know(
        session=context.session,
        national_id=request.national_id,
        purpose="loan application",
        consent=request.consent,
        actor=actor,
    )
    token = tokens.token_for(session=context.session, national_id=request.national_id, sector=SECTOR)
    attributes = resident_attributes(resident, as_of=today, address_levels=context.country.profile.address_levels)
    return f"token:{token}", attributes, attributes.get("region")


def _credit_limit(*, context: Context, request: LoanRequest, attributes: dict[str, Any]) -> int | None:
    """A share of last year's assessed income (tax present and an assessment found); None when there is no basis."""
    incomes = context.ports.get(AssessedIncome)
    if incomes is None or request.national_id is None:
        return None
    year = date.today().year - 1
    found = incomes.incomes_for(session=context.session, national_ids=[request.national_id], year=year)
    income = found.get(request.national_id)
    if income is None:
        return None
    attributes[INCOME] = income.amount
    share = Fraction(context.settings.income_share)
    return context.rounding.apply_ratio(income.amount * share.numerator, share.denominator)


def _rule_reason(rule: Any, attributes: Mapping[str, Any]) -> str | None:
    if rule.holds(attributes):
        return None
    return _("eligibility: {attribute} {op} {value} does not hold").format(
        attribute=rule.attribute, op=rule.op, value=rule.value
    )


def _amount_reasons(principal: int, terms: Terms, limit: int | None, currency: str) -> list[str]:
    reasons = []
    if not terms.min_principal <= principal <= terms.max_principal:
        reasons.append(
            _("principal: {principal} is outside the product's {low} to {high}").format(
                principal=principal, low=terms.min_principal, high=terms.max_principal
            )
        )
    if limit is not None and principal > limit:
        reasons.append(
            _("principal: {principal} is more than the limit of {limit} {currency} from the assessed income").format(
                principal=principal, limit=limit, currency=currency
            )
        )
    return reasons


def _payee(*, context: Context, request: LoanRequest) -> tuple[str | None, str | None]:
    """Where the loan is paid and collected: a payments mandate, or the given account on the own rail."""
    disbursements = context.ports.get(Disbursements)
    if disbursements is None:
        if not request.account:
            raise Unprocessable(
                "account: " + _("this deployment has no payments module: give the account the loan is paid into")
            )
        return payee_of_account(request.account), None
    if request.account:
        raise Unprocessable(
            "account: " + _("loans are paid into the applicant's linked account; leave account out"),
        )
    try:
        mandate = disbursements.mandate(
            session=context.session, national_id=request.national_id, external_id=request.external_id
        )
    except Problem as problem:
        return None, _("account: {detail}").format(detail=problem.detail)
    return mandate, None


def get_application(*, session: Session, reference: str) -> Application:
    application = session.scalar(select(Application).where(Application.reference == reference))
    if application is None:
        raise NotFound("reference: " + _("no loan application '{reference}'").format(reference=reference))
    return application


def _awaiting(session: Session, reference: str) -> Application:
    application = get_application(session=session, reference=reference)
    # One decision at a time: a second approver waits for the first one's transaction.
    session.refresh(application, with_for_update=True)
    if application.state != ApplicationState.AWAITING_APPROVAL:
        raise Conflict(
            "reference: "
            + _("application {reference} is {state}, not awaiting approval").format(
                reference=reference, state=application.state
            )
        )
    return application


def approve(*, context: Context, reference: str, approver: Signatory, today: date) -> Application:
    """A second officer (never the one who submitted it) approves a held application; it is then paid."""
    application = _awaiting(context.session, reference)
    approvals.approve(
        session=context.session,
        action=APPROVE_ACTION,
        subject=f"loan-application:{reference}",
        fingerprint=f"{application.principal}:{application.product_code}",
        maker=application.made_by,
        approver=approver,
        required=1,
    )
    application.state, application.decided_by, application.decided_at = (
        ApplicationState.APPROVED,
        approver.actor,
        utcnow(),
    )
    disburse(context=context, application=application, actor=approver.actor, today=today)
    return application


def reject(*, context: Context, reference: str, approver: Signatory, reason: str) -> Application:
    application = _awaiting(context.session, reference)
    approvals.check_not_maker(subject=f"loan-application:{reference}", maker=application.made_by, approver=approver)
    application.state, application.decided_by, application.decided_at = (
        ApplicationState.REJECTED,
        approver.actor,
        utcnow(),
    )
    application.reasons = [reason]
    audit.record(
        session=context.session,
        actor=approver.actor,
        action="loans.application.rejected",
        subject=f"loan-application:{reference}",
        detail={"reason": reason},
    )
    return application


# ---------------------------------------------------------------- disbursement


def disburse(*, context: Context, application: Application, actor: str, today: date) -> Loan:
    """Make the loan: its schedule, its opening lines in the book, and the money to the payee."""
    session = context.session
    product = get_product(session=session, code=application.product_code)
    terms = terms_of(product.terms)
    loan = Loan(
        reference=application.reference.replace("LA-", "LN-", 1),
        application_id=application.id,
        product_code=product.code,
        borrower=application.borrower,
        payee=application.payee,
        region=application.region,
        currency=application.currency,
        principal=application.principal,
        terms=product.terms,
        disbursed_on=today,
        state=LoanState.ACTIVE,
        schedule_version=1,
        schedule_from=today,
    )
    session.add(loan)
    session.flush()
    schedule = build_schedule(principal=loan.principal, terms=terms, disbursed_on=today, rounding=context.rounding)
    instalments = [
        Instalment(
            loan_id=loan.id,
            version=1,
            number=item.number,
            due_on=item.due_on,
            principal=item.principal,
            interest=item.interest,
            fees=item.fees,
        )
        for item in schedule
    ]
    session.add_all(instalments)
    note_position(loan, instalments, new_version=True)
    interest, fees = sum(i.interest for i in schedule), sum(i.fees for i in schedule)
    state = move_money(
        context=context, loan=loan, direction="pay", amount=loan.principal, reference=f"{loan.reference}-disbursement"
    )
    book.book(
        session=session,
        loan=loan,
        kind="disbursed",
        reference=f"{loan.reference}:disbursed",
        lines={
            book.receivable("principal"): loan.principal,
            book.CASH: -loan.principal,
            book.receivable("interest"): interest,
            book.income("interest"): -interest,
            book.receivable("fees"): fees,
            book.income("fees"): -fees,
        },
        amount=loan.principal,
        booked_on=today,
        channel=channel_of(context),
        transfer_state=state,
        actor=actor,
    )
    application.state = ApplicationState.DISBURSED
    audit.record(
        session=session,
        actor=actor,
        action="loans.loan.disbursed",
        subject=f"loan:{loan.reference}",
        detail={"principal": loan.principal, "interest": interest, "fees": fees, "state": state},
    )
    return loan


def channel_of(context: Context) -> str:
    return "payments" if context.ports.provides(Disbursements) else RAIL


def move_money(*, context: Context, loan: Loan, direction: str, amount: int, reference: str) -> str:
    """Pay to or collect from the loan's payee; the transfer's state, or a problem that undoes the caller's work."""
    disbursements = context.ports.get(Disbursements)
    if disbursements is None:
        return "pending"  # rails.export_pending writes the order once this transaction has committed
    money = Money(loan.currency, amount)
    move = disbursements.pay if direction == "pay" else disbursements.collect
    outcome = move(
        session=context.session,
        national_id=None,
        external_id=None,
        mandate=loan.payee,
        amount=money,
        reference=reference,
        purpose=f"loan {loan.reference}",
    )
    if outcome.state == "rejected":
        raise Unprocessable(
            _("the payments ledger refused {reference}: {reason}").format(reference=reference, reason=outcome.reason),
            kind="payment-rejected",
        )
    return outcome.state


# ---------------------------------------------------------------- repayment


def get_loan(*, session: Session, reference: str) -> Loan:
    loan = session.scalar(select(Loan).where(Loan.reference == reference))
    if loan is None:
        raise NotFound("reference: " + _("no loan '{reference}'").format(reference=reference))
    return loan


def current_schedule(session: Session, loan: Loan) -> list[Instalment]:
    return list(
        session.scalars(
            select(Instalment)
            .where(Instalment.loan_id == loan.id, Instalment.version == loan.schedule_version)
            .order_by(Instalment.number)
        )
    )


def owed(instalment: Instalment) -> dict[Component, int]:
    """What `instalment` still owes of each component."""
    found = {c: getattr(instalment, due) - getattr(instalment, paid) for c, (due, paid) in OWED_COLUMNS.items()}
    waived = instalment.waived  # what was left of principal, interest and fees when it was waived
    for component in WAIVABLE:
        taken = min(waived, found[component])
        found[component] -= taken
        waived -= taken
    return found


def repay(
    *, context: Context, reference: str, amount: int, payment_reference: str, source: str, actor: str, today: date
) -> book.Event:
    """Apply a repayment: collected from the linked account (`source="pull"`) or already received (`"bank_credit"`).

    Idempotent on `payment_reference`; more than the loan owes is refused and nothing is written.
    """
    session = context.session
    loan = get_loan(session=session, reference=reference)
    key = f"{loan.reference}:repayment:{payment_reference}"
    existing = book.existing_event(session, key)
    if existing is not None:
        if existing.amount != amount:
            raise Conflict(
                "payment_reference: "
                + _("'{reference}' was already used for a repayment of {amount}").format(
                    reference=payment_reference, amount=existing.amount
                )
            )
        return existing
    if amount <= 0:
        raise Unprocessable("amount: " + _("a repayment is a positive number of minor units"))
    if loan.state != LoanState.ACTIVE:
        raise Conflict("reference: " + _("loan {reference} is {state}").format(reference=reference, state=loan.state))
    schedule = current_schedule(session, loan)
    order = terms_of(loan.terms).allocation
    allocation = allocate(amount, [(i.number, owed(i)) for i in schedule], order)
    if allocation.unapplied:
        outstanding = amount - allocation.unapplied
        raise Conflict(
            "amount: "
            + _("{amount} is more than loan {reference} owes ({outstanding}); use early repayment to settle it").format(
                amount=amount, reference=reference, outstanding=outstanding
            )
        )
    state = "committed"
    if source == "pull":
        state = move_money(
            context=context,
            loan=loan,
            direction="collect",
            amount=amount,
            reference=f"{loan.reference}-{payment_reference}",
        )
    event = book.book(
        session=session,
        loan=loan,
        kind="repayment",
        reference=key,
        lines={book.CASH: amount, **{book.receivable(c): -allocation.total_of(c) for c in COMPONENTS}},
        amount=amount,
        booked_on=today,
        channel=channel_of(context) if source == "pull" else source,
        transfer_state=state,
        actor=actor,
    )
    settle(schedule, allocation.parts, today)
    note_position(loan, schedule)
    close_if_settled(loan, schedule, today)
    audit.record(
        session=session,
        actor=actor,
        action="loans.loan.repaid",
        subject=f"loan:{loan.reference}",
        detail={"amount": amount, "reference": payment_reference, "source": source},
    )
    return event


def settle(schedule: list[Instalment], parts: tuple[Due, ...], today: date) -> None:
    """Record what each instalment received; an instalment owing nothing more is settled today."""
    by_number = {instalment.number: instalment for instalment in schedule}
    for part in parts:
        instalment = by_number[part.instalment]
        paid_column = OWED_COLUMNS[part.component][1]
        setattr(instalment, paid_column, getattr(instalment, paid_column) + part.amount)
    for instalment in schedule:
        if instalment.settled_on is None and not any(owed(instalment).values()):
            instalment.settled_on = today


def note_position(loan: Loan, schedule: Sequence[Instalment], *, new_version: bool = False) -> None:
    """Keep the loan's position true of its current `schedule` (models.Position: read by the daily accrual).

    Called by whatever settles an instalment or makes a schedule version; the first call makes the
    position. A new version copies the loan's schedule fields and clears the period the accrual last
    found a day in (it belonged to the old version).
    """
    position = loan.position
    if position is None:
        position = loan.position = Position(disbursed_on=loan.disbursed_on)
    if position.schedule_version is None or new_version:
        position.schedule_version, position.schedule_from = loan.schedule_version, loan.schedule_from
        position.carried_interest = loan.carried_interest
        position.period_number = position.period_start = position.period_due = position.period_interest = None
    position.unpaid_from = min((i.due_on for i in schedule if i.settled_on is None), default=None)
    position.last_settled_on = max((i.settled_on for i in schedule if i.settled_on is not None), default=None)


def end_loan(loan: Loan, state: LoanState, today: date) -> None:
    """The loan is closed or written off: its position goes (the accrual's scan is the active loans only)."""
    loan.state, loan.closed_on, loan.position = state, today, None


def close_if_settled(loan: Loan, schedule: list[Instalment], today: date) -> None:
    if all(instalment.settled_on is not None for instalment in schedule):
        end_loan(loan, LoanState.CLOSED, today)
