"""How the pages name states stored as codes: marked for translation here, translated when shown."""

from ....core.i18n import N_
from ..programme_service import PaymentLine

CYCLE_STATES = {
    "built": N_("awaiting approval"),
    "approved": N_("approved"),
    "disbursing": N_("disbursing"),
    "disbursed": N_("disbursed"),
}
OUTCOMES = {
    "paid": N_("Paid"),
    "failed": N_("Failed (returned)"),
    "pending": N_("Pending"),
    "unlinked": N_("Not paid: no account linked"),
}
# A payment as its beneficiary sees it: an instruction of a cycle, or a direct transfer.
PAYMENT_STATES = {
    "unlinked": N_("Not paid: no account was linked"),
    "pending": N_("In progress"),
    "committed": N_("In progress"),
    "sent": N_("Sent to your bank"),
    "accepted": N_("Accepted by your bank"),
    "settled": N_("Paid"),
    "returned": N_("Returned: not paid"),
    "received": N_("In progress"),
    "reserved": N_("In progress"),
    "rejected": N_("Rejected"),
}


DIRECT_TRANSFER_STATES = {"committed": N_("Paid")}  # a direct transfer committed is in the account already


def payment_state(line: PaymentLine) -> str:
    """The (untranslated) label of a payment's state, as its beneficiary reads it."""
    if line.cycle is None and line.state in DIRECT_TRANSFER_STATES:
        return DIRECT_TRANSFER_STATES[line.state]
    return PAYMENT_STATES.get(line.state, line.state)
