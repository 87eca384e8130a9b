"""Demo beneficiaries keyed by external ID, linked and paid through the real pipeline."""

from __future__ import annotations

import phonenumbers

from ...core.i18n import _, format_money
from ...core.money import Money, to_minor
from ...core.registry import SeedContext
from . import service
from .config import PaymentsSettings
from .domain import AccountDetails, Beneficiary, TransferOrder

DEMO_BENEFICIARIES = ("DEMO-0001", "DEMO-0002")
DEMO_AMOUNT = "1000"  # major units of the country's currency


def seed(context: SeedContext) -> list[str]:
    """Link and pay the demo beneficiaries; running it again changes nothing (references repeat)."""
    profile = context.country.profile
    funding = context.runtime.settings_of(PaymentsSettings).funding_account
    amount = Money(profile.currency, to_minor(DEMO_AMOUNT, profile.currency))
    for index, external_id in enumerate(DEMO_BENEFICIARIES):
        beneficiary = Beneficiary(external_id=external_id)
        service.link_account(
            session=context.session,
            ports=context.ports,
            country=context.country,
            beneficiary=beneficiary,
            account=_demo_account(profile.phone_region, index),
            actor="seed",
        )
        service.transfer(
            session=context.session,
            ports=context.ports,
            country=context.country,
            order=TransferOrder(f"SEED-{external_id}", beneficiary, amount),
            funding_account=funding,
            actor="seed",
        )
    summary = _("linked and paid {count} demo beneficiaries ({beneficiaries}) {amount} each from {account}")
    return [
        "payments: "
        + summary.format(
            count=len(DEMO_BENEFICIARIES),
            beneficiaries=", ".join(DEMO_BENEFICIARIES),
            amount=format_money(amount),
            account=funding,
        )
    ]


def _demo_account(region: str, index: int) -> AccountDetails:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if index % 2 == 0 and example is not None:
        national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
        return AccountDetails("mobile_money", national)
    return AccountDetails("bank_account", f"{1000000001 + index}", "DEMOBANK")
