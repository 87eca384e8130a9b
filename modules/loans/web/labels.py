"""How the pages name states, buckets and components stored as codes: marked here, translated when shown."""

from ....core.i18n import N_
from .figures import BUCKETS

APPLICATION_STATES = {
    "awaiting_approval": N_("awaiting approval"),
    "approved": N_("approved"),
    "rejected": N_("rejected"),
    "disbursed": N_("paid out"),
}
LOAN_STATES = {"active": N_("active"), "closed": N_("repaid"), "written_off": N_("written off")}
COMPONENT_NAMES = {
    "principal": N_("Principal"),
    "interest": N_("Interest"),
    "fees": N_("Fees"),
    "penalties": N_("Penalties"),
}
FREQUENCIES = {"weekly": N_("weekly"), "fortnightly": N_("fortnightly"), "monthly": N_("monthly")}
LABELS = {
    "buckets": BUCKETS,
    "application_states": APPLICATION_STATES,
    "loan_states": LOAN_STATES,
    "components": COMPONENT_NAMES,
    "frequencies": FREQUENCIES,
}
