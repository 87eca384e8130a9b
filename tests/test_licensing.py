"""Licence grants: issued and signed by the licensor, checked at generation, in the stack and by inventory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import copier
import pytest
import yaml

from .template_repo import clone_template, git

TODAY = date.today()
ALL_MODULES = ["identity", "payments", "tax"]


def run(template: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the clone's scripts, so it uses the clone's licensor key and revocation list."""
    return subprocess.run(
        [sys.executable, str(template / "scripts" / args[0]), *args[1:]], capture_output=True, text=True, check=False
    )


@pytest.fixture
def licensor(tmp_path: Path) -> tuple[Path, Path]:
    """A template clone with a fresh licensor key pair (the private key outside the repository)."""
    template = clone_template(tmp_path / "template")
    private = tmp_path / "licensor.pem"
    result = run(template, "grant", "keygen", "--private", str(private))
    assert result.returncode == 0, result.stderr
    git(template, "add", "-A")
    git(template, "commit", "--quiet", "-m", "our licensor key")
    return template, private


def issue(template: Path, private: Path, out: Path, **overrides: object) -> Path:
    fields = {
        "grant-id": "G-TEST-0001",
        "licensee": "Acme GovTech",
        "territory": ["KE"],
        "module": ALL_MODULES,
        "from": (TODAY - timedelta(days=30)).isoformat(),
        "until": (TODAY + timedelta(days=365)).isoformat(),
        "versions": ">=0.1,<9",
    } | overrides
    args = ["grant", "issue", "--key", str(private), "--out", str(out)]
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            args += [f"--{name}", str(item)]
    result = run(template, *args)
    assert result.returncode == 0, result.stderr
    return out


def generate(template: Path, destination: Path, grant: Path | None, **answers: object) -> Path:
    data = {"modules": ALL_MODULES, **answers}
    if grant is not None:
        data.update(yaml.safe_load(grant.read_text()))
    copier.run_copy(str(template), str(destination), data=data, defaults=True, quiet=True, vcs_ref="HEAD")
    return destination


def test_issue_and_verify_a_grant(licensor: tuple[Path, Path], tmp_path: Path) -> None:
    template, private = licensor
    grant = issue(template, private, tmp_path / "grant.yml")
    assert "licence_grant:" in grant.read_text()
    ok = run(template, "grant", "verify", str(grant), "--country", "KE", "--version", "0.2.0")
    assert ok.returncode == 0 and ok.stdout.startswith("covered")


@pytest.mark.parametrize(
    ("change", "args", "cause"),
    [
        ("tamper", [], "signature invalid"),
        ("wrong key", [], "signature invalid"),
        (None, ["--country", "GH"], "outside territory"),
        (None, ["--module", "landregistry"], "module not licensed"),
        (None, ["--version", "9.1.0"], "version not covered"),
        (None, ["--on", (TODAY + timedelta(days=400)).isoformat()], "expired"),
        ("revoke", [], "revoked"),
    ],
)
def test_verify_names_each_cause(
    licensor: tuple[Path, Path], tmp_path: Path, change: str | None, args: list[str], cause: str
) -> None:
    template, private = licensor
    grant = issue(template, private, tmp_path / "grant.yml")
    if change == "tamper":
        grant.write_text(grant.read_text().replace("Acme GovTech", "Other Vendor"))
    elif change == "wrong key":
        other = tmp_path / "other.pem"
        run(template, "grant", "keygen", "--private", str(other), "--public", str(tmp_path / "other.pub"))
        issue(template, other, grant)
    elif change == "revoke":
        assert (
            run(
                template,
                "grant",
                "revoke",
                "--key",
                str(private),
                "--grant-id",
                "G-TEST-0001",
                "--reason",
                "contract ended",
            ).returncode
            == 0
        )
        assert "# Grants the licensor has revoked" in (template / "licensing" / "revocations.yml").read_text()
    result = run(template, "grant", "verify", str(grant), *args)
    assert result.returncode == 1
    assert result.stderr.startswith(cause), result.stderr


@pytest.mark.parametrize(
    ("overrides", "answers", "message"),
    [
        ({}, {"country": "JP"}, "country JP is outside the grant's territories (KE)"),
        ({"module": ["identity"]}, {}, "module(s) payments, tax not licensed by grant G-TEST-0001"),
        ({"versions": ">=5"}, {}, 'is not covered by ">=5"'),
        ({"until": (TODAY - timedelta(days=1)).isoformat()}, {}, "expired on"),
        ({"licensee": "Somebody Else"}, {"licensee_name": "Acme GovTech"}, "is not the grant's licensee"),
    ],
)
def test_generation_refuses_a_grant_that_does_not_cover_the_answers(
    licensor: tuple[Path, Path], tmp_path: Path, overrides: dict, answers: dict, message: str
) -> None:
    template, private = licensor
    grant = issue(template, private, tmp_path / "grant.yml", **overrides)
    destination = tmp_path / "stack"
    with pytest.raises(ValueError) as refusal:
        generate(template, destination, grant, **answers)
    assert message in str(refusal.value)
    assert not destination.exists() or not any(destination.iterdir())


def test_generation_refuses_a_revoked_grant(licensor: tuple[Path, Path], tmp_path: Path) -> None:
    template, private = licensor
    grant = issue(template, private, tmp_path / "grant.yml")
    run(template, "grant", "revoke", "--key", str(private), "--grant-id", "G-TEST-0001", "--reason", "fraud")
    git(template, "commit", "--quiet", "-am", "revoke")
    with pytest.raises(ValueError, match="grant G-TEST-0001 was revoked: fraud"):
        generate(template, tmp_path / "stack", grant)


def stack_cli(python: Path, stack: Path, *args: str) -> subprocess.CompletedProcess[str]:
    package = yaml.safe_load((stack / ".copier-answers.yml").read_text())["package_name"]
    env = {
        **os.environ,
        "PYTHONPATH": str(stack / "src"),
        "DATABASE_URL": f"sqlite:///{stack / 'x.db'}",
        "ENVIRONMENT": "development",
    }
    return subprocess.run(
        [str(python), "-m", package, *args], cwd=stack, env=env, capture_output=True, text=True, check=False
    )


def test_licensed_stack_reports_its_grant_and_a_tampered_one_fails_check(
    licensor: tuple[Path, Path], tmp_path: Path, python: Path
) -> None:
    template, private = licensor
    grant = issue(template, private, tmp_path / "grant.yml")
    stack = generate(template, tmp_path / "stack", grant)
    notice = (stack / "NOTICE").read_text()
    assert "G-TEST-0001" in notice and "EVALUATION DEPLOYMENT" not in notice
    assert stack_cli(python, stack, "db", "upgrade").returncode == 0
    checked = stack_cli(python, stack, "check")
    assert checked.returncode == 0, checked.stderr
    assert "covered by grant G-TEST-0001" in checked.stdout
    kept = stack / "licence" / "grant.yml"
    kept.write_text(kept.read_text().replace("- KE", "- NG"))
    tampered = stack_cli(python, stack, "check")
    assert tampered.returncode == 1
    assert "signature" in tampered.stderr


def test_inventory_reports_each_compliance_state(licensor: tuple[Path, Path], tmp_path: Path) -> None:
    template, private = licensor
    good = issue(template, private, tmp_path / "good.yml")
    deployments = {"covered": generate(template, tmp_path / "covered", good)}
    deployments["evaluation"] = generate(template, tmp_path / "evaluation", None)
    swaps = {
        "outside territory": {"territory": ["GH"]},
        "module not licensed": {"module": ["identity"]},
        "version not covered": {"versions": "<0.1"},
        "expired": {"until": (TODAY - timedelta(days=1)).isoformat(), "from": (TODAY - timedelta(days=99)).isoformat()},
    }
    for state, overrides in swaps.items():
        stack = generate(template, tmp_path / state.replace(" ", "-"), good)
        # the vendor swapped in a genuine grant that does not cover this deployment
        swapped = issue(template, private, tmp_path / f"{state}.yml", **{"grant-id": "G-TEST-0002", **overrides})
        (stack / "licence" / "grant.yml").write_text(swapped.read_text())
        deployments[state] = stack
    tampered = generate(template, tmp_path / "tampered", good)
    kept = tampered / "licence" / "grant.yml"
    kept.write_text(kept.read_text().replace("Acme GovTech", "Acme GovTech Ltd"))
    deployments["signature invalid"] = tampered
    revoked_grant = issue(template, private, tmp_path / "revoked.yml", **{"grant-id": "G-TEST-0003"})
    deployments["revoked"] = generate(template, tmp_path / "revoked", revoked_grant)
    run(template, "grant", "revoke", "--key", str(private), "--grant-id", "G-TEST-0003", "--reason", "unpaid")

    result = run(
        template, "inventory", *map(str, deployments.values()), "--template", str(template), "--format", "json"
    )
    rows = json.loads(result.stdout)
    assert {row["source"]: row["compliance"] for row in rows} == {
        str(path): state for state, path in deployments.items()
    }
    assert result.returncode == 1
    assert "not covered by a valid licence grant" in result.stderr
    fine = run(
        template,
        "inventory",
        str(deployments["covered"]),
        str(deployments["evaluation"]),
        "--template",
        str(template),
        "--format",
        "json",
    )
    assert fine.returncode == 0, fine.stderr
