"""Relying-party policies: which authentication factors and eKYC attributes a partner may use.

The partner itself (name, hashed API key, scopes) lives in the core's
`core_partner`; the policy is this module's, keyed by that partner's id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.errors import NotFound
from ...core.i18n import _
from ...core.models import Partner, utcnow
from ...core.security import NotPermitted
from .models import PartnerPolicy


def set_policy(
    *, session: Session, partner_id: int, auth_types: list[str], ekyc_attributes: list[str], actor: str
) -> PartnerPolicy:
    if session.get(Partner, partner_id) is None:
        raise NotFound(
            "partner_id: " + _("no partner {partner}; create one with `partner create`").format(partner=partner_id)
        )
    policy = session.scalar(select(PartnerPolicy).where(PartnerPolicy.partner_id == partner_id))
    if policy is None:
        policy = PartnerPolicy(partner_id=partner_id)
        session.add(policy)
    policy.auth_types = sorted(set(auth_types))
    policy.ekyc_attributes = sorted(set(ekyc_attributes))
    policy.updated_at = utcnow()
    session.flush()
    for key in [key for key in _cache if key[0] == partner_id]:
        del _cache[key]
    audit.record(
        session=session,
        actor=actor,
        action="identity.policy.set",
        subject=f"partner:{partner_id}",
        detail={"auth_types": policy.auth_types, "ekyc_attributes": policy.ekyc_attributes},
    )
    return policy


def get_policy(*, session: Session, partner_id: int) -> PartnerPolicy:
    policy = session.scalar(select(PartnerPolicy).where(PartnerPolicy.partner_id == partner_id))
    if policy is None:
        raise NotFound("partner_id: " + _("partner {partner} has no identity policy").format(partner=partner_id))
    return policy


@dataclass(frozen=True)
class Policy:
    auth_types: tuple[str, ...]
    ekyc_attributes: tuple[str, ...]


# Policies change rarely and every authentication reads one: keep them a few seconds per process.
CACHE_SECONDS = 5.0
_cache: dict[tuple[int, str], tuple[float, Policy | None]] = {}


def _cached_policy(session: Session, partner: Partner) -> Policy | None:
    # Keyed by the key prefix too: it is unique per issued partner, even where ids are reused.
    key, now = (partner.id, partner.key_prefix), time.monotonic()
    hit = _cache.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    row = session.scalar(select(PartnerPolicy).where(PartnerPolicy.partner_id == partner.id))
    policy = Policy(tuple(row.auth_types), tuple(row.ekyc_attributes)) if row else None
    _cache[key] = (now, policy)
    return policy


def require_policy(*, session: Session, partner: Partner, factors: list[str], ekyc: bool) -> Policy:
    """The partner's policy, refusing factors (or eKYC) it does not allow."""
    policy = _cached_policy(session, partner)
    if policy is None:
        raise NotPermitted(
            _(
                "partner '{partner}' has no identity policy; an administrator sets one "
                "(PUT /identity/partners/{partner_id}/policy or `identity policy`)"
            ).format(partner=partner.name, partner_id=partner.id)
        )
    refused = sorted(set(factors) - set(policy.auth_types))
    if refused:
        raise NotPermitted(
            "factors: "
            + _("partner '{partner}' may not use {refused}; its policy allows: {allowed}").format(
                partner=partner.name, refused=", ".join(refused), allowed=", ".join(policy.auth_types) or _("none")
            )
        )
    if ekyc and not policy.ekyc_attributes:
        raise NotPermitted(_("partner '{partner}' has no eKYC attributes in its policy").format(partner=partner.name))
    return policy


def policy_of(*, session: Session, partner: Partner) -> Policy | None:
    """The partner's policy (cached as above), None without one: for callers that word refusals their own way."""
    return _cached_policy(session, partner)
