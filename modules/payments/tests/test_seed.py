from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ....core.registry import SeedContext
from ....core.runtime import Runtime
from ..models import AccountLink, Transfer
from ..seed import DEMO_BENEFICIARIES, seed
from ..service import check_ledger


def test_seed_links_and_pays_the_demo_beneficiaries_once(session: Session, runtime: Runtime) -> None:
    context = SeedContext(session=session, runtime=runtime)
    lines = seed(context)
    seed(context)  # again: references repeat, nothing doubles
    session.commit()
    assert "DEMO-0001" in lines[0]
    keys = session.scalars(select(AccountLink.beneficiary_key).order_by(AccountLink.beneficiary_key)).all()
    assert keys == [f"ext:{external_id}" for external_id in DEMO_BENEFICIARIES]
    states = session.scalars(select(Transfer.state)).all()
    assert states == ["committed"] * len(DEMO_BENEFICIARIES)
    assert session.scalar(select(func.count()).select_from(Transfer)) == len(DEMO_BENEFICIARIES)
    assert check_ledger(session=session).balanced
