"""The generated compose file and Dockerfile: migration as its own step, then the API and the worker.

The service graph is checked on the parsed YAML (YAML merge keys resolved as Compose resolves
them); the Compose plugin is not on the machines the template is tested on.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .conftest import generate_stack

PACKAGE = "stack_compose"
COMPLETED = {"condition": "service_completed_successfully"}
CONTAINER_TMP = "/tmp"  # noqa: S108 - the containers' tmpfs, not a file of this test
SERVE = ["python", "-m", PACKAGE, "serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104 - inside the container


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_stack(tmp_path_factory.mktemp("compose") / "stack", package_name=PACKAGE)


def test_compose_migrates_once_before_the_api_and_the_worker_start(stack: Path) -> None:
    services = yaml.safe_load((stack / "deploy" / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert services["migrate"]["command"] == ["python", "-m", PACKAGE, "db", "upgrade"]
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    assert services["api"]["depends_on"] == {"migrate": COMPLETED}
    assert services["worker"]["depends_on"] == {"migrate": COMPLETED}
    assert services["worker"]["command"] == ["python", "-m", PACKAGE, "worker"]
    assert "upgrade" not in services["api"]["command"]
    for name in ("migrate", "api", "worker"):  # one image, hardened, secrets from the environment only
        service = services[name]
        assert service["image"] == services["api"]["image"]
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert service["tmpfs"] == [CONTAINER_TMP]
        assert service["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")


def test_the_image_serves_as_a_non_root_user_and_has_the_postgresql_client(stack: Path) -> None:
    dockerfile = (stack / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    cmd = re.search(r"^CMD (.+)$", dockerfile, re.MULTILINE)
    assert cmd
    assert yaml.safe_load(cmd.group(1)) == SERVE
    assert "db upgrade" not in cmd.group(1)
    assert re.search(r"^USER 10001(:10001)?$", dockerfile, re.MULTILINE)
    assert "postgresql-client" in dockerfile
    assert re.search(r"^ENV HOME=/tmp TMPDIR=/tmp$", dockerfile, re.MULTILINE)
