"""Changing a programme's rules under four-eyes: one person proposes, enough others approve, then they apply.

The programme keeps its rules until the approval that reaches the required number; then the new
rules replace them in the same transaction. A new proposal supersedes the pending one (its
approvals are voided). Every step locks the programme's row, so concurrent approvals queue and
exactly one of them puts the rules in force. Cycles keep the instructions they were built with:
the rules are read when a cycle is built.
"""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import approvals, audit
from ...core.approvals import Signatory, Tally
from ...core.errors import Conflict, NotFound, Problem
from ...core.i18n import _
from ...core.models import utcnow
from ...core.pages import Page, PageRequest, fetch
from ...core.registry import Ports
from .domain import ProgrammeRules, ProgrammeTerms
from .locks import lock_row
from .models import Programme, ProgrammeRuleChange, RuleChangeState
from .programme_service import check_rules

APPROVAL_ACTION = "payments.change_rules"  # the key of its count in APPROVALS_REQUIRED


def current_rules(programme: Programme) -> ProgrammeRules:
    return ProgrammeRules.stored(programme.eligibility, programme.entitlement, programme.income_year)


def proposed_rules(change: ProgrammeRuleChange) -> ProgrammeRules:
    return ProgrammeRules.stored(change.eligibility, change.entitlement, change.income_year)


def propose(
    *, session: Session, ports: Ports, programme: Programme, rules: ProgrammeRules, proposer: Signatory
) -> ProgrammeRuleChange:
    """Record new rules for `programme`, awaiting approval; the change pending until now, if any, is superseded."""
    check_rules(ports=ports, rules=rules)
    lock_row(session=session, row=programme)
    if rules.canonical() == current_rules(programme).canonical():
        raise Problem(
            _("programme {code} already has these rules").format(code=programme.code),
            kind="no-change",
            status=409,
            field="eligibility",
        )
    superseded = _supersede_pending(session, programme, proposer)
    stored = rules.canonical()
    change = ProgrammeRuleChange(
        programme_id=programme.id,
        state=RuleChangeState.PENDING,
        eligibility=stored["eligibility"],
        entitlement=stored["entitlement"],
        income_year=rules.income_year,
        proposed_by=proposer.person,
        proposed_by_actor=proposer.actor,
        proposed_by_role=proposer.role,
    )
    session.add(change)
    session.flush()
    audit.record(
        session=session,
        actor=proposer.actor,
        action="payments.programme.rules_proposed",
        subject=f"programme:{programme.code}",
        detail={"change": change.id, "person": proposer.person, "role": proposer.role, "superseded": superseded},
    )
    return change


def _supersede_pending(session: Session, programme: Programme, proposer: Signatory) -> list[int]:
    pending = session.scalars(
        select(ProgrammeRuleChange).where(
            ProgrammeRuleChange.programme_id == programme.id, ProgrammeRuleChange.state == RuleChangeState.PENDING
        )
    ).all()
    for change in pending:
        change.state, change.decided_at = RuleChangeState.SUPERSEDED, utcnow()
        approvals.void_replaced(
            session=session, action=APPROVAL_ACTION, subject=change_subject(programme, change), actor=proposer.actor
        )
    return [change.id for change in pending]


def get_change(*, session: Session, programme: Programme, change_id: int) -> ProgrammeRuleChange:
    change = session.get(ProgrammeRuleChange, change_id)
    if change is None or change.programme_id != programme.id:
        raise NotFound(
            _("programme {code} has no rule change {change}").format(code=programme.code, change=change_id),
            field="change_id",
        )
    return change


def change_subject(programme: Programme, change: ProgrammeRuleChange) -> str:
    return f"programme:{programme.code}:rule-change:{change.id}"


def change_fingerprint(programme: Programme, change: ProgrammeRuleChange) -> str:
    """SHA-256 of what the approvers approve: which programme gets which rules, read from the stored change.

    Read from the row at each approval, so a change of the proposed rules by any path voids the approvals.
    """
    approved = {"programme": programme.code, "change": change.id, **proposed_rules(change).canonical()}
    return hashlib.sha256(json.dumps(approved, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def tally(*, session: Session, programme: Programme, change: ProgrammeRuleChange, required: int) -> Tally:
    """The live approvals of the change's rules as they are now, and how many it needs."""
    count = approvals.tally_of(
        session=session,
        action=APPROVAL_ACTION,
        subject=change_subject(programme, change),
        fingerprint=change_fingerprint(programme, change),
    )
    return Tally(count, required)


def approve(
    *, session: Session, programme: Programme, change: ProgrammeRuleChange, approver: Signatory, required: int
) -> Tally:
    """One approver's approval of the proposed rules; at `required` they become the programme's rules.

    The proposer is refused, and so is a person who already approved these rules. The programme's
    row is locked first, so concurrent approvals queue and exactly one of them applies the rules.
    """
    lock_row(session=session, row=programme)
    session.refresh(change)
    subject = change_subject(programme, change)
    approvals.check_not_maker(subject=subject, maker=change.proposed_by, approver=approver)
    if change.state != RuleChangeState.PENDING:
        raise Conflict(
            _("rule change {change} of programme {code} is {state}: only a pending change can be approved").format(
                change=change.id, code=programme.code, state=change.state
            ),
            state=change.state,
        )
    fingerprint = change_fingerprint(programme, change)
    given = approvals.approve(
        session=session,
        action=APPROVAL_ACTION,
        subject=subject,
        fingerprint=fingerprint,
        maker=change.proposed_by,
        approver=approver,
        required=required,
    )
    if given.reached:
        _apply(session, programme, change, fingerprint, approver)
    return given


def _apply(
    session: Session, programme: Programme, change: ProgrammeRuleChange, fingerprint: str, approver: Signatory
) -> None:
    """The programme's rules become the change's; its request hash follows, so registering it again with the
    new rules is a replay and with the old ones a conflict."""
    rules = proposed_rules(change)
    unchanged = (programme.code, programme.name, programme.currency, programme.source)
    terms = ProgrammeTerms(*unchanged, rules.eligibility, rules.entitlement, rules.income_year)
    programme.eligibility, programme.entitlement = change.eligibility, change.entitlement
    programme.income_year = change.income_year
    programme.request_hash = terms.digest()
    change.state, change.approved_by, change.decided_at = RuleChangeState.APPROVED, approver.actor, utcnow()
    session.flush()
    subject = change_subject(programme, change)
    approvers = approvals.approvers_of(
        session=session, action=APPROVAL_ACTION, subject=subject, fingerprint=fingerprint
    )
    audit.record(
        session=session,
        actor=approver.actor,
        action="payments.programme.rules_changed",
        subject=f"programme:{programme.code}",
        detail={
            "change": change.id,
            "proposer": {
                "person": change.proposed_by,
                "actor": change.proposed_by_actor,
                "role": change.proposed_by_role,
            },
            "approvers": approvers,
        },
    )


def queue(
    *, session: Session, programme: Programme, page: PageRequest, state: RuleChangeState = RuleChangeState.PENDING
) -> Page[ProgrammeRuleChange]:
    """The programme's rule changes in `state` (awaiting approval by default), oldest first."""
    query = select(ProgrammeRuleChange).where(
        ProgrammeRuleChange.programme_id == programme.id, ProgrammeRuleChange.state == state
    )
    return fetch(session, query, ProgrammeRuleChange.id, page)
