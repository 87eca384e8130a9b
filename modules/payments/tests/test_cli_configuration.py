from typer.testing import CliRunner

from ....cli import app


def test_a_bad_configuration_is_one_message_not_a_traceback(bad_configuration: str) -> None:
    result = CliRunner().invoke(app, ["payments", "ledger-check"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "Configuration error" in result.output
    assert bad_configuration in result.output
