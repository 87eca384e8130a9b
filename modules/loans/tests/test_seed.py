from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from ....core.registry import SeedContext
from ....core.runtime import Runtime
from .. import service
from ..config import LoansSettings
from ..schedule import build_schedule
from ..seed import DEMO_PRODUCT, seed


def test_seed_makes_a_demo_product_scaled_to_the_four_eyes_amount_once(session: Session, runtime: Runtime) -> None:
    context = SeedContext(session=session, runtime=runtime)
    assert seed(context) == ["loans: demo product STARTER: 18 % a year, 12 monthly instalments"]
    assert seed(context) == []
    loans = service.Context(session, runtime.country, runtime.ports, runtime.settings_of(LoansSettings))
    terms = service.terms_of(service.get_product(session=session, code=DEMO_PRODUCT).terms)
    assert terms.max_principal == 2 * service.four_eyes_threshold(loans)
    schedule = build_schedule(
        principal=terms.max_principal, terms=terms, disbursed_on=date(2026, 1, 31), rounding=loans.rounding
    )
    assert schedule[0].principal == 0 and schedule[1].due_on == date(2026, 3, 31)
