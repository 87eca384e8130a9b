import pytest
from pydantic import ValidationError

from ..core.settings import PLACEHOLDER_SECRET, Settings


@pytest.mark.parametrize("environment", ["test", "production"])
def test_placeholder_secret_is_refused_outside_development(environment: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
        Settings(environment=environment, secret_key=PLACEHOLDER_SECRET)


def test_short_secret_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(environment="production", secret_key="short")


def test_placeholder_is_allowed_in_development() -> None:
    assert Settings(environment="development").secret_key.get_secret_value() == PLACEHOLDER_SECRET


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    assert Settings().database_url == "sqlite:///elsewhere.db"
