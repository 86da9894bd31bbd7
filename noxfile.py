"""Automation: ``nox -s check`` runs everything CI runs.

``check`` runs with the interpreter that runs nox (after ``pip install -e
'.[dev]'`` into it), so the README's test command is quick; the other
sessions build their own virtualenvs.
"""

from __future__ import annotations

import sys

import nox

nox.options.sessions = ["check"]

_WITHOUT_FAST = (
    "import sys; sys.modules['msgspec'] = None; import pytest; "
    "raise SystemExit(pytest.main(['-W', 'error', '-q', *sys.argv[1:]]))"
)
_WITHOUT_FAST_TESTS = [
    "tests/unit/test_json_decoding.py",
    "tests/unit/test_transport.py",
    "tests/netsapiens",
    "tests/hardening",
    "tests/ringcentral/test_history_records.py",
    "tests/textmagic/test_history_records.py",
    "tests/mongooseim/test_history_records.py",
]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=False)
def check(session: nox.Session) -> None:
    """Tests (warnings are errors), mypy --strict, ruff lint and format check, here."""
    session.run(
        sys.executable, "-m", "pytest", "-W", "error", "-q", *session.posargs, external=True
    )
    if not session.posargs:
        # The JSON and history paths once more as without the fast extra
        # (msgspec made unimportable): the standard library's json must give
        # the same results.
        session.run(sys.executable, "-c", _WITHOUT_FAST, *_WITHOUT_FAST_TESTS, external=True)
    session.run(sys.executable, "-m", "mypy", "--strict", external=True)
    session.run(sys.executable, "-m", "ruff", "check", ".", external=True)
    session.run(sys.executable, "-m", "ruff", "format", "--check", ".", external=True)


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite in a fresh virtualenv."""
    session.install("-e", ".[dev]")
    session.run("pytest", "-W", "error", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, tests and benchmarks."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks and write benchmarks/results.md (the only writer of it)."""
    # The MongooseIM fake serves GraphQL via graphql-core; the shared-state
    # scenario needs redis-py (and a redis-server binary, else it is skipped);
    # the SDK scenario measures the official RingCentral SDK, pinned so the
    # figures compare one version (its note names the version it ran); the
    # library runs with its fast extra (msgspec), as the results say.
    session.install("-e", ".[testing,redis,fast]", "ringcentral==0.9.2")
    session.run("python", "benchmarks/run.py", "--write", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ (MkDocs, warnings are errors)."""
    session.install("-e", ".[docs]")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--site-dir",
        "site",
        *session.posargs,
        env={"NO_MKDOCS_2_WARNING": "1"},  # a theme end-of-life banner, not a build warning
    )
