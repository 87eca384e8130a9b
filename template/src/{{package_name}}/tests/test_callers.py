"""A caller names one person whatever the role, and a region-limited role reaches only its regions."""

from __future__ import annotations

import pytest

from ..core.callers import Caller

pytestmark = pytest.mark.country_independent  # reads no country data: runs once per module combination, not per country


def test_one_person_in_two_roles_is_one_person_and_the_audit_names_the_role() -> None:
    as_officer = Caller(kind="staff", id=7, name="amina", role="core.administrator")
    as_approver = Caller(kind="staff", id=7, name="amina", role="core.auditor")
    assert as_officer.person == as_approver.person == "staff:7"
    assert as_approver.actor == "staff:amina (core.auditor)"
    assert Caller(kind="partner", id=7, name="Bank A").person == "partner:7"
    assert Caller(kind="partner", id=7, name="Bank A").actor == "partner:Bank A"


def test_a_region_limited_role_reaches_only_its_regions() -> None:
    limited = Caller(kind="staff", id=1, name="juma", role="core.administrator", regions=frozenset({"NBO"}))
    assert limited.may_act_in("NBO")
    assert not limited.may_act_in("MSA")
    assert not limited.may_act_in(None)
    everywhere = Caller(kind="staff", id=2, name="wanjiru", role="core.administrator")
    assert everywhere.may_act_in("MSA") and everywhere.may_act_in(None)
