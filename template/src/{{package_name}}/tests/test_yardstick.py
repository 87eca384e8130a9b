import pytest
from sqlalchemy import Engine, inspect

from ..core.yardstick import Yardstick, measure

# Machinery that reads no country data: run once per module combination, not per profile.
pytestmark = pytest.mark.country_independent


def test_the_yardstick_inserts_every_row_and_leaves_no_table(engine: Engine) -> None:
    before = set(inspect(engine).get_table_names())
    yardstick = measure(engine, 25_000)
    assert yardstick.rows == 25_000 and yardstick.seconds > 0
    assert set(inspect(engine).get_table_names()) == before


def test_a_rate_scales_by_the_ratio_of_yardsticks() -> None:
    here = Yardstick(rows=40_000, seconds=1.0)  # a machine a quarter as fast as the reference
    assert here.scaled(8_000, reference_rate=160_000) == pytest.approx(32_000)
