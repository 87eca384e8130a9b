"""Nothing outside a module's folder names it: template/, jinja/ and cookiecutter/ loop over the selection.

What counts as naming a module: a catalogue name as a word, where `_` separates words
(`tax`, `identity_dedup_threshold`, `/tax/returns`), or as an environment prefix (`PAYMENTS_`).
Documentation may name modules, so these are not searched:
- Markdown files (`*.md`, `*.md.jinja`);
- in Python, comments, docstrings and help text: a string given as `help=` or `description=`
  (what `--help` and the OpenAPI page show);
- in every other file, Jinja comments (`{# ... #}`) and lines that are comments of the file's own
  language (starting with `#`: YAML, TOML, env files, Dockerfiles), and the `__prompts__` of
  cookiecutter.json (Cookiecutter's help text).
Symbolic links are not followed: template/src/{{package_name}}/modules and cookiecutter/modules
are the module folders themselves.
"""

from __future__ import annotations

import io
import json
import os
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

from .catalogue import REPO, catalogue

SEARCHED = ("template", "jinja", "cookiecutter")
HELP_KEYWORDS = {"help", "description"}
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)


def naming(names: list[str]) -> re.Pattern[str]:
    words = "|".join(re.escape(name) for name in names)
    prefixes = "|".join(re.escape(name.upper()) for name in names)
    return re.compile(rf"(?<![A-Za-z0-9])({words})(?![A-Za-z0-9])|(?<![A-Za-z0-9])({prefixes})_")


def searched_files(root: Path = REPO) -> Iterator[Path]:
    for top in SEARCHED:
        for folder, subfolders, files in os.walk(root / top):  # does not follow symbolic links
            subfolders[:] = [name for name in subfolders if not (Path(folder) / name).is_symlink()]
            for name in files:
                path = Path(folder) / name
                if not path.is_symlink() and not name.endswith((".md", ".md.jinja")):
                    yield path


def python_code(text: str) -> Iterator[tuple[int, str]]:
    """(line, token) of the Python source that is code: no comment, docstring or help text."""
    previous: list[tokenize.TokenInfo] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = token.type
        if kind == tokenize.STRING and _is_documentation(previous):
            pass
        elif kind not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            yield token.start[0], token.string
        if kind not in (tokenize.NL, tokenize.COMMENT):
            previous = [*previous[-1:], token]


def _is_documentation(previous: list[tokenize.TokenInfo]) -> bool:
    """A docstring (a string opening a statement) or the value of a help=/description= argument."""
    if not previous or previous[-1].type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
        return True
    keyword, equals = ([None, *previous])[-2:]
    return equals.string == "=" and keyword is not None and keyword.string in HELP_KEYWORDS


def text_code(file_name: str, text: str) -> Iterator[tuple[int, str]]:
    """(line, text) of any other file that is not documentation."""
    if file_name == "cookiecutter.json":
        context = json.loads(text)
        context.pop("__prompts__", None)
        text = json.dumps(context, indent=1)
    text = JINJA_COMMENT.sub(lambda comment: "\n" * comment.group().count("\n"), text)
    for number, line in enumerate(text.splitlines(), 1):
        if not line.lstrip().startswith("#"):
            yield number, line


def named_parts(file_name: str, text: str, names: list[str]) -> list[tuple[int, str]]:
    """(line, code) of a file's text that names a module."""
    pattern = naming(names)
    code = python_code(text) if file_name.endswith((".py", ".py.jinja")) else text_code(file_name, text)
    return [(line, part) for line, part in code if pattern.search(part)]


def mentions(path: Path, names: list[str]) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []  # a binary file
    return [
        f"{path.relative_to(REPO)}:{line}: {part.strip()[:100]}" for line, part in named_parts(path.name, text, names)
    ]


def test_nothing_outside_the_module_folders_names_a_module() -> None:
    names = catalogue()
    found = [mention for path in searched_files() for mention in mentions(path, names)]
    assert not found, "named outside its folder (loop over `modules` or move it into the module):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("file_name", "text", "named"),
    [
        ("a.py", "if 'tax' in modules:\n    pass\n", True),
        ("a.py", "SETTING = 'TAX_RATE'\n", True),
        ("a.py", "limit = tax_threshold\n", True),
        ("a.py", "x = 1  # as the tax module does\n", False),
        ("a.py", 'def f():\n    """Read what tax provides."""\n    return 1\n', False),
        ("a.py", "option = Option(help='e.g. tax@base')\n", False),
        ("a.py", "syntax = 'taxonomy'\n", False),
        ("a.toml.jinja", '{%- if "tax" in modules %}\n', True),
        ("a.toml.jinja", "{#- each module, such as tax, adds its own -#}\n# tax settings\n", False),
    ],
)
def test_the_search_finds_code_and_passes_documentation(file_name: str, text: str, named: bool) -> None:
    assert bool(named_parts(file_name, text, ["tax"])) is named
