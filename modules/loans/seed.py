"""A demo loan product, scaled to the deployment's currency through its four-eyes amount."""

from __future__ import annotations

from ...core.i18n import _
from ...core.registry import SeedContext
from . import service
from .config import LoansSettings
from .terms import Penalty, Terms

DEMO_PRODUCT = "STARTER"


def seed(context: SeedContext) -> list[str]:
    settings = context.runtime.settings_of(LoansSettings)
    loans = service.Context(session=context.session, country=context.country, ports=context.ports, settings=settings)
    if DEMO_PRODUCT in {product.code for product in service.list_products(session=context.session)}:
        return []
    four_eyes = service.four_eyes_threshold(loans)
    terms = Terms(
        interest_method="declining",
        annual_rate="0.18",
        instalments=12,
        frequency="monthly",
        grace_instalments=1,
        fee_rate="0.01",
        min_principal=max(four_eyes // 100, 1),
        max_principal=four_eyes * 2,
        penalty=Penalty(rate="0.02", after_days=7),
    )
    service.create_product(context=loans, code=DEMO_PRODUCT, name="Starter micro-loan", terms=terms, actor="seed")
    return ["loans: " + _("demo product {code}: 18 % a year, 12 monthly instalments").format(code=DEMO_PRODUCT)]
