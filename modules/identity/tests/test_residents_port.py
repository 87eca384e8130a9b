from datetime import date

from sqlalchemy.orm import Session

from ....core.ports import ResidentRegistry
from ....core.registry import Ports
from ..models import Person, PersonStatus


def test_active_residents_in_national_id_order_across_batches(ports: Ports, session: Session) -> None:
    registry = ports.get(ResidentRegistry)
    assert registry is not None
    ids = ["6497869071", "2937164857", "9273625174", "5283947162", "3947162835"]
    for number in ids:
        session.add(
            Person(
                national_id=number,
                given_name="A",
                family_name="B",
                name_key="a b",
                date_of_birth=date(1980, 1, 1),
                sex="F",
                address={"county": "Kisumu"},
                status=PersonStatus.DECEASED if number == "9273625174" else PersonStatus.ACTIVE,
            )
        )
    session.flush()
    residents = list(registry.iter_residents(session=session, batch_size=2))
    assert [r.national_id for r in residents] == sorted(set(ids) - {"9273625174"})
    assert residents[0].address == {"county": "Kisumu"} and residents[0].date_of_birth == date(1980, 1, 1)
