"""Every Python snippet in README.md and docs/ compiles as shown.

A block is a whole program: ``await`` / ``async with`` / ``async for`` at
the top level is a syntax error, except in a block whose first line is a
comment naming ``python -m asyncio`` (a session of Python's asyncio REPL,
where top-level ``await`` works). Names a block uses must be imported or
bound in the block itself, so a snippet cannot lean on an import it does
not show. The README's offline example (the one on the fakes) also runs.
"""

from __future__ import annotations

import ast
import builtins
import re
import subprocess
import sys
from pathlib import Path

import pytest

from messaging_hub import errors

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```python[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S
)
ASYNCIO_SESSION = re.compile(r"\A#[^\n]*python -m asyncio")


def _pages() -> list[Path]:
    pages = [ROOT / "README.md"]
    docs = ROOT / "docs"
    if docs.is_dir():
        pages += sorted(docs.rglob("*.md"))
    return pages


def _blocks() -> list[tuple[str, str]]:
    found = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            body = match.group("body")
            indent = match.group("indent")
            if indent:  # a fence inside a list item or admonition
                body = "".join(
                    ln[len(indent) :] if ln.startswith(indent) else ln
                    for ln in body.splitlines(keepends=True)
                )
            found.append((f"{page.relative_to(ROOT)}:{line}", body))
    return found


BLOCKS = _blocks()


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the block binds anywhere (scopes ignored: this looks for missing imports)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
    return names


def test_the_readme_has_snippets() -> None:
    assert sum(1 for where, _ in BLOCKS if where.startswith("README.md")) >= 5


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_snippet_compiles_as_shown(where: str, code: str) -> None:
    session = bool(ASYNCIO_SESSION.match(code))
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if session else 0
    try:
        compile(code, where, "exec", flags=flags)
    except SyntaxError as exc:
        hint = "" if session else " (top-level await? mark the block '# python -m asyncio')"
        pytest.fail(f"{where}: {exc.msg} at snippet line {exc.lineno}{hint}")
    tree = ast.parse(code)
    bound = _bound_names(tree) | set(dir(builtins))
    used = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)
    }
    missing = sorted(used - bound)
    assert not missing, f"{where}: uses {', '.join(missing)} without importing or defining it"


def test_snippet_check_catches_what_it_should() -> None:
    with pytest.raises(SyntaxError):
        compile("async with x:\n    pass\n", "snippet", "exec")
    compile("# python -m asyncio\nawait f()\n", "s", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    assert ASYNCIO_SESSION.match("# python -m asyncio\nawait f()\n")
    assert not ASYNCIO_SESSION.match("import asyncio\n# python -m asyncio\n")
    tree = ast.parse("import messaging_hub as mh\nclient = mh.connect(x)\n")
    assert {"mh", "client"} <= _bound_names(tree)
    assert "x" not in _bound_names(tree)


def test_offline_readme_example_runs() -> None:
    offline = [
        code
        for where, code in BLOCKS
        if where.startswith("README.md") and "messaging_hub.testing" in code
    ]
    assert offline, "the README's example on the fakes is gone"
    for code in offline:
        done = subprocess.run(  # noqa: S603 - our own interpreter, the README's text
            [sys.executable, "-W", "error", "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "hi bot" in done.stdout


def test_the_error_tree_in_the_docs_is_the_one_in_errors_py() -> None:
    doc = errors.__doc__ or ""
    drawn = doc.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    tree = [line.removeprefix("    ") for line in drawn.splitlines()]
    page = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    shown = page.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert shown == tree, "docs/errors.md's tree differs from messaging_hub/errors.py's docstring"
