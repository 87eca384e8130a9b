"""Who is acting: a staff member signed in under one of their roles, or a partner system holding a key.

Every route that needs a caller gets one `Caller` from the one authorisation layer, whichever way
the caller proved who they are; services take the caller's `actor` for the audit log and, for
four-eyes actions, the caller's `person` (two roles held by one person are still one person).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CallerKind = Literal["staff", "partner"]


@dataclass(frozen=True)
class Caller:
    kind: CallerKind
    id: int  # the staff account's or the partner's row id
    name: str  # the staff member's user name or the partner's name
    role: str | None = None  # the role a staff member acts in for this request; None for a partner
    # Regions (codes of the profile's first address level) the role is limited to; None: everywhere.
    regions: frozenset[str] | None = None

    @property
    def person(self) -> str:
        """One string per person or partner, whatever the role: what four-eyes rules count."""
        return f"{self.kind}:{self.id}"

    @property
    def actor(self) -> str:
        """How the audit log names the caller: `staff:amina (payments.approver)` or `partner:Bank A`."""
        named = f"{self.kind}:{self.name}"
        return f"{named} ({self.role})" if self.role else named

    def may_act_in(self, region: str | None) -> bool:
        """Whether the caller's role reaches a record in `region` (a record with no region: only unlimited roles)."""
        if self.regions is None:
            return True
        return region is not None and region in self.regions
