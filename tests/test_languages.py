"""Every language a shipped country profile names is served: the core and each module carry its catalog.

A profile's `languages:` is the promise made to that country's residents. Without a catalog for
one of them, a resident asking in that language silently gets English (or the profile's locale),
so the gap is caught here, from the files alone, before any stack is generated. Whether each
catalog is complete is the generated stack's own test (tests/test_i18n.py there).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .catalogue import REPO

CORE_LOCALES = REPO / "template" / "src" / "{{package_name}}" / "locales"
# A module with no messages has no messages.pot and needs no catalog.
MODULE_LOCALES = sorted(path.parent for path in (REPO / "modules").glob("*/locales/messages.pot"))
LANGUAGE_HEADER = re.compile(r'^"Language: ([A-Za-z_]+)\\n"$', re.MULTILINE)


def profile_languages() -> list[tuple[str, str]]:
    pairs = []
    for profile in sorted((REPO / "countries").glob("*.yml")):
        languages = yaml.safe_load(profile.read_text(encoding="utf-8"))["languages"]
        pairs.extend((profile.stem, language) for language in languages)
    return pairs


def catalog(locales: Path, language: str) -> Path:
    return locales / language / "LC_MESSAGES" / "messages.po"


PAIRS = profile_languages()


def test_there_are_module_catalogs_to_check() -> None:
    assert MODULE_LOCALES, "no modules/*/locales/messages.pot: the module half of this test checks nothing"


@pytest.mark.parametrize(("country", "language"), PAIRS, ids=[f"{country}-{language}" for country, language in PAIRS])
def test_each_profile_language_has_a_catalog_in_the_core_and_every_module(country: str, language: str) -> None:
    missing, mislabelled = [], []
    for locales in [CORE_LOCALES, *MODULE_LOCALES]:
        path = catalog(locales, language)
        where = path.relative_to(REPO)
        if not path.is_file():
            missing.append(str(where))
            continue
        # A catalog copied from another language and not re-headed would be read with the wrong plural rule.
        declared = LANGUAGE_HEADER.search(path.read_text(encoding="utf-8"))
        if declared is None or declared.group(1) != language:
            mislabelled.append(f"{where} (Language: {declared.group(1) if declared else 'none'})")
    assert not missing and not mislabelled, (
        f"countries/{country}.yml lists '{language}', but it is not served:\n"
        + "".join(f"  no catalog: {path}\n" for path in missing)
        + "".join(f"  wrong Language header: {entry}\n" for entry in mislabelled)
        + "create them with `pybabel init` (docs/localisation.md)"
    )
