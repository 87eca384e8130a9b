"""scripts/inventory and scripts/drift over deployments on different releases."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from .catalogue import REPO
from .template_repo import clone_template, generate_at, git, release


def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *args], capture_output=True, text=True, check=False
    )


def two_releases(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A template with releases 0.9.0 (marked unsupported) and 0.9.1, and a deployment on each."""
    template = clone_template(tmp_path / "template")
    old = release(template, "0.9.0")
    kenya = generate_at(
        template,
        old,
        tmp_path / "kenya",
        deployment_name="Kenya Stack",
        licensee_name="Acme GovTech",
        licence_reference="LIC-KE-0001",
        modules=["identity", "payments"],
    )
    (template / "support.yml").write_text('releases:\n  "0.9.1": supported\n  "0.9.0": unsupported\n')
    new = release(template, "0.9.1")
    japan = generate_at(
        template,
        new,
        tmp_path / "japan",
        deployment_name="Japan Stack",
        country="JP",
        licensee_name="Sakura Systems",
        licence_reference="LIC-JP-0007",
        modules=["tax"],
    )
    return template, kenya, japan


def test_inventory_lists_version_modules_and_support_and_fails_on_unsupported(tmp_path: Path) -> None:
    template, kenya, japan = two_releases(tmp_path)
    result = script("inventory", str(kenya), f"file://{japan}", "--template", str(template), "--format", "json")
    assert result.returncode == 1, result.stderr
    assert "unsupported template release in: Kenya Stack" in result.stderr
    rows = {row["deployment"]: row for row in json.loads(result.stdout)}
    assert rows["Kenya Stack"] | {"source": ""} == {
        "deployment": "Kenya Stack",
        "country": "KE",
        "licensee": "Acme GovTech",
        "licence_reference": "LIC-KE-0001",
        "modules": "identity payments",
        "template_version": "0.9.0",
        "versions_behind": 1,
        "support": "unsupported",
        "compliance": "evaluation",
        "compliance_reason": "no licence grant: evaluation deployment",
        "source": "",
    }
    assert rows["Japan Stack"]["source"] == f"file://{japan}"
    assert (rows["Japan Stack"]["template_version"], rows["Japan Stack"]["versions_behind"]) == ("0.9.1", 0)
    assert (rows["Japan Stack"]["country"], rows["Japan Stack"]["support"]) == ("JP", "supported")

    as_csv = script("inventory", str(kenya), str(japan), "--template", str(template), "--format", "csv")
    records = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["deployment"] for r in records] == ["Kenya Stack", "Japan Stack"]
    table = script("inventory", str(kenya), str(japan), "--template", str(template))
    assert "Kenya Stack" in table.stdout and "unsupported" in table.stdout

    supported_only = script("inventory", str(japan), "--template", str(template), "--format", "json")
    assert supported_only.returncode == 0


def test_inventory_refuses_a_folder_that_is_no_deployment(tmp_path: Path) -> None:
    result = script("inventory", str(tmp_path))
    assert result.returncode == 2
    assert "no .copier-answers.yml" in result.stderr


def test_inventory_reads_meta_of_a_running_deployment(tmp_path: Path, python: Path) -> None:
    template = clone_template(tmp_path / "template")
    stack = generate_at(template, release(template, "0.9.0"), tmp_path / "stack", modules=["identity"])
    package = yaml.safe_load((stack / ".copier-answers.yml").read_text())["package_name"]
    env = {
        **os.environ,
        "PYTHONPATH": str(stack / "src"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'meta.db'}",
        "ENVIRONMENT": "development",
    }
    run = [str(python), "-m", package]
    subprocess.run([*run, "db", "upgrade"], cwd=stack, env=env, check=True, capture_output=True)
    key = subprocess.run(
        [*run, "partner", "create", "--name", "Licensor", "--scope", "meta:read"],
        cwd=stack,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*run, "serve", "--port", str(port)], cwd=stack, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        result = script("inventory", "--meta", f"http://127.0.0.1:{port}/meta", "--key", key, "--format", "json")
    finally:
        server.terminate()
        server.wait(timeout=10)
    rows = json.loads(result.stdout)
    assert rows[0]["template_version"] == "0.9.0"
    assert rows[0]["modules"] == "identity"
    assert rows[0]["licence_reference"] == "EVALUATION"


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - localhost
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


def test_drift_counts_vendor_changes_per_module_and_in_the_core(tmp_path: Path) -> None:
    template = clone_template(tmp_path / "template")
    stack = generate_at(template, release(template, "0.9.0"), tmp_path / "stack", modules=["identity", "payments"])
    package = yaml.safe_load((stack / ".copier-answers.yml").read_text())["package_name"]
    service = stack / "src" / package / "modules" / "payments" / "service.py"
    lines = service.read_text().splitlines()
    lines[0] = '"""Vendor-patched payments service."""'
    service.write_text("\n".join([*lines, "", "VENDOR_LIMIT = 10_000_000", ""]))
    (stack / "src" / package / "core" / "vendor_hooks.py").write_text("HOOKS: list[str] = []\n")
    (stack / "deploy" / "compose.yaml").unlink()
    git(stack, "add", "-A")
    git(stack, "commit", "--quiet", "-m", "vendor patches")

    result = script("drift", str(stack), "--template", str(template), "--format", "json")
    assert result.returncode == 0, result.stderr
    areas = json.loads(result.stdout)[0]["areas"]
    payments = areas["module:payments"]
    assert payments["changed"] == [f"src/{package}/modules/payments/service.py"]
    assert (payments["files_changed"], payments["lines_added"], payments["lines_removed"]) == (1, 3, 1)
    assert areas["core"]["files_added"] == [f"src/{package}/core/vendor_hooks.py"]
    assert areas["core"]["files_deleted"] == ["deploy/compose.yaml"]
    assert areas["core"]["files_changed"] == 0
    identity = areas["module:identity"]
    assert (identity["files_changed"], identity["files_added"], identity["files_deleted"]) == (0, [], [])
    table = script("drift", str(stack), "--template", str(template))
    assert "module:payments" in table.stdout
