"""The README's two commands, as a new user runs them."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

from .catalogue import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README.split("## Two commands")[1].split("\n## ")[0], re.S)
    return [block.strip() for block in blocks]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_readme_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    demo, test = readme_commands()
    assert demo == "python3 scripts/demo"
    assert test == "python3 scripts/test"
    ci_lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci_lines[-1] == test


def test_demo_command_generates_installs_migrates_seeds_and_serves(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "demo"),
            "--smoke",
            "--dest",
            str(tmp_path / "demo"),
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert re.search(r"GET /meta -> template \d+\.\d+\.\d+", output)
    assert re.search(r"national ID \d{10}", output)
    assert re.search(r"POST /payments/transfers -> committed: 5,000\.00 KES paid to the ID-linked account", output)
    assert re.search(r"POST /tax/returns -> TIN \d{9}, \d{4} income 1,200,000 KES: tax due 268,600\.00 KES", output)
    assert "curl -H 'X-API-Key: nsk_" in output
