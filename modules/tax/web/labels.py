"""How the pages name states and kinds stored as codes: marked for translation here, translated when shown."""

from ....core.i18n import N_

TAXPAYER_STATUSES = {"active": N_("active"), "deregistered": N_("deregistered"), "deceased": N_("deceased")}
ASSESSMENT_STATES = {"current": N_("current"), "superseded": N_("superseded")}
ENTRY_KINDS = {
    "assessed": N_("Tax assessed"),
    "penalty": N_("Late-filing penalty"),
    "superseded": N_("Assessment replaced"),
    "interest": N_("Interest"),
    "paid": N_("Paid"),
    "refunded": N_("Refunded"),
}
ENTRY_STATES = {"committed": N_("done"), "pending": N_("in progress"), "rejected": N_("rejected")}
OBJECTION_STATES = {
    "lodged": N_("lodged"),
    "under_review": N_("under review"),
    "allowed": N_("allowed"),
    "partially_allowed": N_("partially allowed"),
    "disallowed": N_("disallowed"),
}
RETURN_KINDS = {"income": N_("Income tax"), "vat": N_("VAT")}
LABELS = {
    "statuses": TAXPAYER_STATUSES,
    "assessment_states": ASSESSMENT_STATES,
    "entry_kinds": ENTRY_KINDS,
    "entry_states": ENTRY_STATES,
    "objection_states": OBJECTION_STATES,
    "return_kinds": RETURN_KINDS,
}
