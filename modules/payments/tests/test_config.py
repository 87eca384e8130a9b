import pytest
from pydantic import ValidationError

from ..config import PaymentsSettings


def test_funding_account_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENTS_FUNDING_ACCOUNT", "SOCIAL_FUND_2026")
    assert PaymentsSettings().funding_account == "SOCIAL_FUND_2026"


@pytest.mark.parametrize("code", ["treasury", "T", "1TREASURY", "TREASURY-1", "X" * 33])
def test_a_malformed_funding_account_is_refused(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    monkeypatch.setenv("PAYMENTS_FUNDING_ACCOUNT", code)
    with pytest.raises(ValidationError, match="funding_account"):
        PaymentsSettings()
