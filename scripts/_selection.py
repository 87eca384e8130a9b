"""Change the module selection of an existing deployment: used by scripts/modules and its tests.

Copier recomputes a deployment from its answers, so the module list is changed by
`copier.run_update(data={"modules": [...]}, vcs_ref=<recorded _commit>)`: Copier renders the
recorded release twice (old answers, new answers) and applies the difference to the
deployment, merging the vendor's edits 3-way. Editing `modules:` in the answers file and
running `copier update` does not work: Copier would take the edited list as the old side
too and see no difference. Pinning `vcs_ref` to the recorded `_commit` keeps the template
release unchanged, so a module change never doubles as a template upgrade.

Copier rewrites `.copier-answers.yml` whole (the file is excluded from its 3-way merge), so
the vendor's comments and key order in it would be lost. `restore_answers_layout` puts
them back with ruamel.yaml's round-trip mode; see docs/lifecycle-modules.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import copier
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

ANSWERS_FILE = ".copier-answers.yml"
MANIFEST = re.compile(r"^modules/([^/]+)/module\.yml$")


class SelectionRefused(Exception):
    """A change that is not made; the message says why and what to do instead."""


# ---------------------------------------------------------------- reading a deployment


def _safe_yaml() -> YAML:
    return YAML(typ="safe", pure=True)


def _round_trip_yaml() -> YAML:
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    # Copier writes top-level sequences without indentation ("modules:\n- identity").
    rt.indent(mapping=2, sequence=2, offset=0)
    return rt


def git(folder: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(
        ["git", "-c", "core.quotepath=off", *args], cwd=folder, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise SelectionRefused(f"git {' '.join(args)} failed in {folder}: {result.stderr.strip()}")
    return result.stdout


@dataclass(frozen=True)
class Deployment:
    folder: Path
    answers: dict[str, Any]

    @property
    def package(self) -> str:
        return str(self.answers["package_name"])

    @property
    def modules(self) -> list[str]:
        return list(self.answers.get("modules") or [])

    @property
    def src_path(self) -> str:
        return str(self.answers["_src_path"])

    @property
    def ref(self) -> str:
        return str(self.answers["_commit"])

    def module_folder(self, module: str) -> Path:
        return Path("src", self.package, "modules", module)

    def plain_answers(self) -> dict[str, Any]:
        return {key: value for key, value in self.answers.items() if not str(key).startswith("_")}


def read_deployment(folder: Path) -> Deployment:
    answers_file = folder / ANSWERS_FILE
    if not answers_file.is_file():
        raise SelectionRefused(f"{folder}: no {ANSWERS_FILE}; not a deployment generated from this template")
    answers = _safe_yaml().load(answers_file.read_text(encoding="utf-8")) or {}
    missing = [key for key in ("_src_path", "_commit", "package_name", "modules") if not answers.get(key)]
    if missing:
        raise SelectionRefused(
            f"{answers_file}: {', '.join(missing)} missing; Copier cannot update a deployment without them "
            "(was it generated from a git checkout of the template?)"
        )
    return Deployment(folder=folder.resolve(), answers=answers)


def require_clean_tree(folder: Path) -> None:
    """Copier's update works on git; refuse unless the deployment is a repository with nothing uncommitted."""
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=folder, capture_output=True, text=True, check=False
    )
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise SelectionRefused(f"{folder} is not a git repository; commit the deployment to git first")
    status = git(folder, "status", "--porcelain", "--untracked-files=all").splitlines()
    if status:
        listed = "\n".join(f"  {line}" for line in status[:10]) + ("\n  ..." if len(status) > 10 else "")
        raise SelectionRefused(
            f"{folder} has uncommitted changes; commit or stash them first, so that the module change "
            f"is one reviewable commit and can be undone with git:\n{listed}"
        )


def _template_checkout(src: str, workdir: Path) -> Path:
    """A git repository holding the template: the local folder itself, or a partial clone of the URL."""
    if Path(src).is_dir():
        return Path(src)
    url = re.sub(r"^gh:", "https://github.com/", re.sub(r"^gl:", "https://gitlab.com/", src))
    target = workdir / "template"
    result = subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", "--filter=blob:none", url, str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SelectionRefused(f"cannot clone the template {src}: {result.stderr.strip()}")
    return target


def template_catalogue(deployment: Deployment) -> list[str]:
    """Modules of the template release the deployment records (folders under modules/ with a manifest)."""
    with tempfile.TemporaryDirectory(prefix="nation-stack-catalogue.") as scratch:
        repo = _template_checkout(deployment.src_path, Path(scratch))
        resolved = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{deployment.ref}^{{commit}}"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
        if resolved.returncode != 0:
            raise SelectionRefused(
                f"the template at {deployment.src_path} has no commit {deployment.ref!r} (the deployment's "
                "_commit); was it generated from uncommitted template changes, or has the template moved?"
            )
        commit = resolved.stdout.strip()
        names = []
        for path in git(repo, "ls-tree", "-r", "--name-only", commit, "--", "modules").splitlines():
            if MANIFEST.match(path):
                manifest = _safe_yaml().load(git(repo, "show", f"{commit}:{path}"))
                names.append(str(manifest["name"]))
        return names


def parse_data(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` answers (VALUE read as YAML, as `copier -d` does)."""
    data: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise SelectionRefused(f"--data {pair!r}: expected KEY=VALUE")
        if key.strip() == "modules":
            raise SelectionRefused("--data modules=...: the module list is what `add` and `remove` change")
        data[key.strip()] = _safe_yaml().load(value) if value else ""
    return data


# ---------------------------------------------------------------- running the change


@dataclass
class Change:
    deployment: Deployment
    module: str
    before: list[str]
    after: list[str]
    changed_files: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    answers_layout_restored: bool = False
    dropped: str = ""  # what the stack printed when it dropped the module's tables first (where its backup is)


def _ordered(modules: set[str], catalogue: list[str]) -> list[str]:
    return [name for name in catalogue if name in modules] + sorted(modules - set(catalogue))


def _update(deployment: Deployment, modules: list[str], data: dict[str, Any], module: str) -> Change:
    answers_file = deployment.folder / ANSWERS_FILE
    before_text = answers_file.read_text(encoding="utf-8")
    copier.run_update(
        str(deployment.folder),
        data={**data, "modules": modules},
        defaults=True,  # every other answer stays as recorded; a new module's questions take their defaults
        overwrite=True,
        quiet=True,
        # Copier counts the template's ungated migration in every update (docs/lifecycle.md);
        # at the recorded release upgrades/apply.py finds no step to run.
        unsafe=True,
        vcs_ref=deployment.ref,  # the recorded release: change the modules, not the template version
    )
    after_text = answers_file.read_text(encoding="utf-8")
    restored = restore_answers_layout(before_text, after_text)
    if restored != after_text:
        answers_file.write_text(restored, encoding="utf-8")
    status = git(deployment.folder, "status", "--porcelain", "--untracked-files=all").splitlines()
    conflicts = sorted(
        {line[3:] for line in status if line[:2] in {"UU", "AA", "DU", "UD", "AU", "UA"}}
        | {line[3:-4] for line in status if line.endswith(".rej")}
    )
    return Change(
        deployment=deployment,
        module=module,
        before=deployment.modules,
        after=modules,
        changed_files=[line[3:] for line in status],
        conflicts=conflicts,
        answers_layout_restored=restored != after_text,
    )


def add_module(folder: Path, module: str, *, data: dict[str, Any] | None = None) -> Change:
    deployment = read_deployment(folder)
    if module in deployment.modules:
        raise SelectionRefused(f"{module!r} is already in this deployment (modules: {', '.join(deployment.modules)})")
    catalogue = template_catalogue(deployment)
    if module not in catalogue:
        raise SelectionRefused(
            f"no module {module!r} in template release {deployment.answers.get('_template_version', deployment.ref)}; "
            f"the catalogue is: {', '.join(catalogue)}"
        )
    require_clean_tree(deployment.folder)
    change = _update(deployment, _ordered({*deployment.modules, module}, catalogue), dict(data or {}), module)
    if not (deployment.folder / deployment.module_folder(module) / "__init__.py").is_file():
        raise SelectionRefused(f"Copier did not write {deployment.module_folder(module)}; the deployment is unchanged")
    return change


@dataclass
class Removal:
    deployment: Deployment
    module: str
    remaining: list[str]
    deleted: list[str]  # files Copier deletes (the template's files of the module), relative to the deployment
    edited: list[str]  # ... of which the vendor changed: their edits are lost
    vendor_added: list[str]  # files in the module folder the template never had: Copier leaves them
    downgrade_command: str


def plan_removal(folder: Path, module: str) -> Removal:
    """What removing `module` would do, computed without changing anything."""
    deployment = read_deployment(folder)
    if module not in deployment.modules:
        raise SelectionRefused(f"{module!r} is not in this deployment (modules: {', '.join(deployment.modules)})")
    remaining = [name for name in deployment.modules if name != module]
    if not remaining:
        raise SelectionRefused(
            f"{module!r} is the last module of this deployment; a stack needs at least one module. "
            "Add the replacement first, then remove this one."
        )
    relative = deployment.module_folder(module)
    with tempfile.TemporaryDirectory(prefix="nation-stack-pristine.") as scratch:
        pristine = Path(scratch) / "pristine"
        copier.run_copy(
            deployment.src_path,
            str(pristine),
            data=deployment.plain_answers(),
            vcs_ref=deployment.ref,
            defaults=True,
            quiet=True,
            unsafe=False,
        )
        template_files = {
            path.relative_to(pristine).as_posix(): path.read_bytes()
            for path in sorted((pristine / relative).rglob("*"))
            if path.is_file()
        }
    deleted, edited = [], []
    for name, rendered in template_files.items():
        current = deployment.folder / name
        if current.is_file():
            deleted.append(name)
            if current.read_bytes() != rendered:
                edited.append(name)
    tracked = git(deployment.folder, "ls-files", "--", relative.as_posix()).splitlines()
    vendor_added = sorted(name for name in tracked if name not in template_files)
    return Removal(
        deployment=deployment,
        module=module,
        remaining=remaining,
        deleted=deleted,
        edited=edited,
        vendor_added=vendor_added,
        downgrade_command=downgrade_command(deployment, module),
    )


def downgrade_command(deployment: Deployment, module: str) -> str:
    """How the operator drops the module's tables (through the stack's CLI when it has `db downgrade`)."""
    cli = deployment.folder / "src" / deployment.package / "cli.py"
    source = cli.read_text(encoding="utf-8") if cli.is_file() else ""
    if '"status"' in source:  # this release's `db downgrade` asks first (--yes) and makes a backup
        return f"python -m {deployment.package} db downgrade {module}@base --yes"
    if '"downgrade"' in source:
        return f"python -m {deployment.package} db downgrade {module}@base"
    return (
        f'python -c "from {deployment.package}.core import migrate; '
        f"from {deployment.package}.core.runtime import build_runtime; "
        f"migrate.downgrade(build_runtime().engine, '{module}@base')\""
    )


# ---------------------------------------------------------------- the deployment's database
#
# Only the stack knows where its database is (environment, `.env`, `deployment.env`, its
# defaults) and how to read it (SQLite or PostgreSQL), so it is asked through its own CLI,
# run in the deployment's folder with the deployment's Python: `db status --json`.


@dataclass(frozen=True)
class ModuleTables:
    database: str  # the URL the stack reported, password hidden
    applied: str | None  # the module branch's revision in alembic_version
    tables: list[str]  # the module's tables still in the database

    @property
    def present(self) -> bool:
        return bool(self.applied or self.tables)


def deployment_python(deployment: Deployment, python: Path | None) -> Path:
    """The interpreter the deployment runs in: given, or its `.venv` (as its README sets it up)."""
    if python is not None:
        return python
    default = deployment.folder / ".venv" / "bin" / "python"
    if default.is_file():
        return default
    raise SelectionRefused(
        f"cannot ask the stack which tables its database holds: no {default}; give the Python the deployment "
        "runs with (--python PATH, the one with its dependencies installed)"
    )


def run_stack(deployment: Deployment, python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m <package> ARGS` in the deployment's folder, with its own source first on the path."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(deployment.folder / "src"), environment.get("PYTHONPATH")])
    )
    return subprocess.run(
        [str(python), "-m", deployment.package, *args],
        cwd=deployment.folder,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def module_tables(deployment: Deployment, module: str, python: Path) -> ModuleTables:
    """What the deployment's database still holds of `module`, as the stack reports it."""
    result = run_stack(deployment, python, "db", "status", "--json")
    if result.returncode != 0:
        if "No such command" in result.stderr:
            raise SelectionRefused(
                "this deployment's stack cannot report its database (no `db status`: a release before it); "
                f"drop the module's tables on every database first ({downgrade_command(deployment, module)}), "
                "or upgrade the deployment to a release with `db status`"
            )
        raise SelectionRefused(
            f"cannot ask the stack which tables its database holds (`python -m {deployment.package} db status` "
            f"failed):\n{result.stderr.strip()[-2000:]}"
        )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    branch = next((b for b in report["branches"] if b["name"] == module), {"applied": None, "tables": []})
    return ModuleTables(database=report["database"], applied=branch["applied"], tables=list(branch["tables"]))


def drop_module_tables(deployment: Deployment, module: str, python: Path) -> str:
    """Drop the module's tables through the stack's `db downgrade` (which backs the database up first)."""
    result = run_stack(deployment, python, "db", "downgrade", f"{module}@base", "--yes")
    if result.returncode != 0:
        raise SelectionRefused(
            f"`db downgrade {module}@base` failed; the module is still installed:\n{result.stderr.strip()[-2000:]}"
        )
    return result.stdout.strip()


def remove_module(plan: Removal, *, python: Path | None = None, drop_tables: bool = False) -> Change:
    """Carry out a removal planned by `plan_removal` (after the operator confirmed it).

    Refused while the deployment's database holds the module's tables: without the
    module's migrations no later `db upgrade` could run on it. With `drop_tables` the
    stack drops them first (`db downgrade <module>@base`, which makes a backup).
    """
    deployment = plan.deployment
    require_clean_tree(deployment.folder)
    interpreter = deployment_python(deployment, python)
    held = module_tables(deployment, plan.module, interpreter)
    if held.present and not drop_tables:
        listed = ", ".join(held.tables) or f"(revision {held.applied} applied)"
        raise SelectionRefused(
            f"the database {held.database} still holds the {plan.module} module's tables: {listed}\n"
            f"Drop them first, while the module's migrations are here (the stack backs the database up first):\n"
            f"  {plan.downgrade_command}\n"
            f"then run this again; or add --drop-tables to do both. Do the same on every other database of "
            f"this deployment. Nothing was changed."
        )
    dropped = ""
    if held.present:
        dropped = drop_module_tables(deployment, plan.module, interpreter)
        if module_tables(deployment, plan.module, interpreter).present:
            raise SelectionRefused(f"the {plan.module} tables are still there after the downgrade; nothing removed")
    catalogue = template_catalogue(deployment)
    change = _update(deployment, _ordered(set(plan.remaining), catalogue), {}, plan.module)
    change.dropped = dropped
    return change


# ---------------------------------------------------------------- the answers file's layout
#
# ruamel.yaml keeps a comment with the node *before* it: the comment lines above key B are
# stored after the value of key A (on A itself, or on the last item of A's list). So the
# vendor's comments are read as: the header, for every key its end-of-line comment and the
# lines above it, and the lines after the last key; then re-attached the same way to
# Copier's new answers, laid out in the vendor's key order.


@dataclass
class _Layout:
    header: list[CommentToken]
    eol: dict[Any, tuple[str, int]]  # key -> (end-of-line comment on its last line, its column)
    nested: set[Any]  # keys whose last line is inside a list or mapping value
    above: dict[Any, str]  # key -> comment and blank lines above it ("" when none)
    tail: str  # comment and blank lines after the last key


def _last_leaf(node: Any, key: Any) -> tuple[Any, Any]:
    """The (container, key or index) whose comment slot holds what follows `node[key]`."""
    value = node[key]
    if isinstance(value, CommentedMap) and len(value):
        return _last_leaf(value, list(value)[-1])
    if isinstance(value, CommentedSeq) and len(value):
        return _last_leaf(value, len(value) - 1)
    return node, key


def _slot(container: Any) -> int:
    return 0 if isinstance(container, CommentedSeq) else 2


def _take_trailing(node: CommentedMap, key: Any) -> str:
    """Remove and return the comment text stored after `node[key]` (end-of-line part included)."""
    container, leaf = _last_leaf(node, key)
    item = container.ca.items.get(leaf)
    if not item or item[_slot(container)] is None:
        return ""
    token = item[_slot(container)]
    item[_slot(container)] = None
    return token.value if isinstance(token, CommentToken) else "".join(t.value for t in token)


def _layout(doc: CommentedMap) -> _Layout:
    keys = list(doc)
    header = list(doc.ca.comment[1]) if doc.ca.comment and doc.ca.comment[1] else []
    eol: dict[Any, tuple[str, int]] = {}
    nested = {key for key in keys if _last_leaf(doc, key)[0] is not doc}
    above: dict[Any, str] = dict.fromkeys(keys, "")
    tail = ""
    for index, key in enumerate(keys):
        container, leaf = _last_leaf(doc, key)
        item = container.ca.items.get(leaf)
        column = item[_slot(container)].column if item and isinstance(item[_slot(container)], CommentToken) else 0
        text = _take_trailing(doc, key)
        first, _, rest = text.partition("\n")
        if first.strip():
            eol[key] = (first, column)
        if index + 1 < len(keys):
            above[keys[index + 1]] = rest
        else:
            tail = rest
    return _Layout(header=header, eol=eol, nested=nested, above=above, tail=tail)


def _put_trailing(node: CommentedMap, key: Any, eol: tuple[str, int] | None, following: str) -> None:
    if not eol and not following:
        return
    container, leaf = _last_leaf(node, key)
    text = (eol[0] if eol else "") + "\n" + following
    token = CommentToken(text, CommentMark(eol[1] if eol else 0))
    if isinstance(container, CommentedSeq):
        container.ca.items[leaf] = [token, None, None, None]
    else:
        container.ca.items[leaf] = [None, None, token, None]


def _plain(value: Any) -> Any:
    return _safe_yaml().load(_dump(value)) if isinstance(value, CommentedMap | CommentedSeq) else value


def _dump(data: Any) -> str:
    buffer = StringIO()
    _round_trip_yaml().dump(data, buffer)
    return buffer.getvalue()


def restore_answers_layout(before: str, after: str) -> str:
    """Copier's new answers (`after`) with the comments and key order of the vendor's file (`before`).

    Returns `after` unchanged when `before` had nothing Copier drops (only Copier's own
    header comment, keys in Copier's order), so an untouched deployment gets Copier's
    bytes. Comments of an answer that no longer exists (a removed module's question) go
    with it; comments inside a list whose value changed (the module list) are not kept.
    """
    rt = _round_trip_yaml()
    old, new = rt.load(before), rt.load(after)
    if not isinstance(old, CommentedMap) or not isinstance(new, CommentedMap):
        return after
    old_plain = {key: _plain(value) for key, value in old.items()}
    old_layout, new_layout = _layout(old), _layout(new)
    order_old = [key for key in old if key in new]
    order_new = [key for key in new if key in old]
    vendor_comments = (
        [t.value for t in old_layout.header] != [t.value for t in new_layout.header]
        or any(old_layout.eol.get(key) for key in order_old)
        or any(old_layout.above.get(key, "").strip() for key in order_old)
        or old_layout.tail.strip()
    )
    if not vendor_comments and order_old == order_new:
        return after

    # The vendor's order; a key new in Copier's file goes right after the key it follows there.
    order = list(order_old)
    for index, key in enumerate(new):
        if key in order:
            continue
        previous = next((k for k in reversed(list(new)[:index]) if k in order), None)
        order.insert(order.index(previous) + 1 if previous is not None else 0, key)

    merged = CommentedMap()
    for key in order:
        unchanged = key in old and old_plain[key] == _plain(new[key])
        merged[key] = old[key] if unchanged else new[key]  # an unchanged value keeps its own quoting
    merged.ca.comment = [None, old_layout.header or new_layout.header]
    for index, key in enumerate(order):
        following = order[index + 1] if index + 1 < len(order) else None
        text = old_layout.above.get(following, "") if following is not None else old_layout.tail
        # A list's end-of-line comment belongs to its last item: kept only while the list is unchanged.
        eol = old_layout.eol.get(key) if key not in old_layout.nested or merged[key] is old[key] else None
        _put_trailing(merged, key, eol, text)
    restored = _dump(merged)
    if _safe_yaml().load(restored) != _safe_yaml().load(after):  # never trade an answer for a comment
        return after
    return restored
