"""What one generated stack contains, for the demo defaults and for each country choice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .catalogue import REPO, catalogue
from .conftest import Generate

VERSION = (REPO / "VERSION").read_text(encoding="utf-8").strip()


def test_defaults_give_the_demo_stack_with_every_module(full_stack: Path) -> None:
    answers = yaml.safe_load((full_stack / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["modules"] == catalogue()
    assert answers["licensee_name"] == "Evaluation Licensee"
    assert re.fullmatch(r"[0-9a-f]{7,40}|v?\d+\.\d+\.\d+.*", str(answers["_commit"]))
    stack = yaml.safe_load(next((full_stack / "src").glob("*/stack.yml")).read_text(encoding="utf-8"))
    assert stack["template_version"] == VERSION
    assert re.fullmatch(r"[0-9a-f]{40}", stack["template_commit"])
    notice = (full_stack / "NOTICE").read_text(encoding="utf-8")
    assert "EVALUATION DEPLOYMENT" in notice
    for path in ("deploy/Dockerfile", "deploy/compose.yaml", "README.md", "LICENSE", ".env.example", "country.yml"):
        assert (full_stack / path).is_file(), path


@pytest.mark.parametrize("country", ["JP", "JO", "KE"])
def test_shipped_profile_becomes_country_yml(country: str, generate: Generate) -> None:
    stack = generate(country=country, modules=catalogue())
    assert (stack / "country.yml").read_text(encoding="utf-8") == (REPO / "countries" / f"{country}.yml").read_text(
        encoding="utf-8"
    )


def test_custom_country_is_rendered_from_the_answers(generate: Generate) -> None:
    stack = generate(
        country="custom",
        custom_country_code="GH",
        custom_currency="GHS",
        custom_languages=["en"],
        custom_timezone="Africa/Accra",
        modules=catalogue(),
    )
    profile = yaml.safe_load((stack / "country.yml").read_text(encoding="utf-8"))
    assert profile["country"] == "GH"
    assert profile["name"] == "Ghana"
    assert profile["currency"] == "GHS"
    assert profile["locale"] == "en_GH"


def test_without_a_grant_the_notice_says_evaluation(generate: Generate) -> None:
    stack = generate(licensee_name="Acme Gov Tech", licence_reference="LIC-2026-0042", modules=catalogue()[:1])
    notice = (stack / "NOTICE").read_text(encoding="utf-8")
    assert "Acme Gov Tech" in notice and "LIC-2026-0042" in notice
    assert "EVALUATION DEPLOYMENT" in notice
    assert not (stack / "licence" / "grant.yml").exists()
    assert (stack / "licence" / "licensor-public.pem").read_bytes() == (
        REPO / "licensing" / "licensor-public.pem"
    ).read_bytes()


def test_postgresql_choice_adds_the_driver(generate: Generate) -> None:
    stack = generate(database="postgresql", modules=catalogue()[:1])
    assert "psycopg[binary]" in (stack / "pyproject.toml").read_text(encoding="utf-8").split("[project.optional")[0]
    assert "postgresql+psycopg://" in (stack / ".env.example").read_text(encoding="utf-8")


def test_package_name_is_derived_from_the_deployment_name(generate: Generate) -> None:
    stack = generate(deployment_name="Kenya National Stack 2027", modules=catalogue()[:1])
    assert (stack / "src" / "kenya_national_stack_2027").is_dir()


def test_recorded_commit_reads_back_as_text_under_yaml_1_2(full_stack: Path) -> None:
    """ruamel.yaml (YAML 1.2) reads a bare 5e96410 as infinity; the answers file quotes the hash."""
    from ruamel.yaml import YAML

    answers = YAML(typ="safe", pure=True).load((full_stack / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert isinstance(answers["_commit"], str)
    assert '_commit: "' in (full_stack / ".copier-answers.yml").read_text(encoding="utf-8")
