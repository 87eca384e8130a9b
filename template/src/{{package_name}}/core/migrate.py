"""One Alembic environment; the core and every installed module own a labelled branch.

The version locations are built from the installed modules, so `upgrade heads`
works for whichever combination this deployment has.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from .db import Base
from .registry import installed_modules

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    locations = [MIGRATIONS / "versions", *(module.migrations for module in installed_modules())]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", _join(locations))
    config.attributes["engine"] = engine
    config.attributes["target_metadata"] = target_metadata()
    return config


def target_metadata():
    installed_modules()  # importing each module registers its tables on Base.metadata
    return Base.metadata


def upgrade(engine: Engine, revision: str = "heads") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def pending_heads(engine: Engine) -> set[str]:
    """Heads not yet applied to the database (empty when it is up to date)."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    with engine.connect() as connection:
        applied = set(MigrationContext.configure(connection).get_current_heads())
    return set(script.get_heads()) - applied


def schema_differences(engine: Engine) -> list[str]:
    """Differences between the models and the migrated database (empty when they agree)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [repr(diff) for diff in compare_metadata(context, target_metadata())]


def revision(engine: Engine, *, branch: str, message: str, autogenerate: bool = True) -> None:
    """Write a new revision on `branch` (core or a module name) into that branch's folder."""
    config = alembic_config(engine)
    folder = MIGRATIONS / "versions" if branch == "core" else _module_folder(branch)
    command.revision(
        config, message=message, autogenerate=autogenerate, head=f"{branch}@head", version_path=str(folder)
    )


def _module_folder(name: str) -> Path:
    for module in installed_modules():
        if module.name == name:
            return module.migrations
    raise ValueError(f"no installed module is called {name!r}")


def _join(paths: list[Path]) -> str:
    return os.pathsep.join(str(path) for path in paths)
