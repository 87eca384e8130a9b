import secrets

import pytest
from pydantic import SecretStr, ValidationError

from ..conftest import TEST_SECRET
from ..core.runtime import build_runtime
from ..core.settings import PLACEHOLDER_SECRET, Settings, secret_weakness

pytestmark = pytest.mark.selection  # depends on which modules are installed

STRONG = secrets.token_urlsafe(32)


@pytest.fixture(autouse=True)
def no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENVIRONMENT", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_production_is_the_default_and_refuses_the_placeholder(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env or deployment.env asking for anything
    with pytest.raises(ValidationError, match="SECRET_KEY") as refused:
        Settings()
    assert "ENVIRONMENT=production" in str(refused.value)
    assert "secrets.token_urlsafe(32)" in str(refused.value)  # says how to make one
    assert Settings(secret_key=STRONG).environment == "production"


@pytest.mark.parametrize("environment", ["test", "production"])
@pytest.mark.parametrize(
    "secret",
    [
        PLACEHOLDER_SECRET,
        "short",
        "a" * 16,  # passed the old length-only rule
        "a" * 64,  # long but one distinct character
        "abcdefghijk" * 4,  # 11 distinct characters
        "abcdefghijkl" * 3,  # 12 distinct characters and 129 bits by frequency, but a repeated pattern
        "test-secret-key-not-for-production",  # the old test secret: 15 distinct, low entropy
    ],
)
def test_weak_secrets_are_refused_outside_development(environment: str, secret: str) -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY") as refused:
        Settings(environment=environment, secret_key=secret)
    message = str(refused.value)
    assert "32 characters" in message and "12 distinct" in message and "128 bits" in message
    assert secret not in message or secret == PLACEHOLDER_SECRET  # never echoes the secret itself


@pytest.mark.parametrize("secret", [STRONG, secrets.token_hex(32), TEST_SECRET], ids=["urlsafe", "hex", "tests"])
def test_generated_secrets_pass(secret: str) -> None:
    assert secret_weakness(secret) is None
    assert Settings(environment="production", secret_key=secret).secret_key.get_secret_value() == secret


def test_development_must_be_asked_for_and_warns_about_the_placeholder(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    development = settings.model_copy(
        update={"environment": "development", "secret_key": SecretStr(PLACEHOLDER_SECRET)}
    )
    assert Settings(environment="development").secret_key.get_secret_value() == PLACEHOLDER_SECRET
    runtime = build_runtime(development)
    runtime.engine.dispose()
    warning = capsys.readouterr().err
    assert "SECRET_KEY" in warning and "ENVIRONMENT=development" in warning
    build_runtime(settings).engine.dispose()  # a strong secret: no warning
    assert "SECRET_KEY" not in capsys.readouterr().err


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("SECRET_KEY", STRONG)
    assert Settings().database_url == "sqlite:///elsewhere.db"
