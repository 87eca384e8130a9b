import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from ..core import migrate
from ..core.registry import installed_modules

# depends on which modules are installed; reads no country data (runs once per combination, not per country)
pytestmark = [pytest.mark.selection, pytest.mark.country_independent]


def test_every_branch_is_at_its_head(engine: Engine) -> None:
    assert migrate.pending_heads(engine) == set()


def test_models_and_migrations_agree(engine: Engine) -> None:
    assert migrate.schema_differences(engine) == []


def test_each_installed_module_owns_a_labelled_branch(engine: Engine) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))
    labels = {label for revision in script.walk_revisions() for label in revision.branch_labels}
    assert labels == {"core", *(module.name for module in installed_modules())}


def test_every_table_is_named_after_its_branch() -> None:
    # `db status` and the unknown-revision report find a branch's tables by this prefix,
    # even once the branch's code is gone.
    branches = migrate.branch_names()
    misnamed = [t.name for t in migrate.target_metadata().sorted_tables if t.name.split("_", 1)[0] not in branches]
    assert misnamed == []
