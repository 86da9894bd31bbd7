"""The examples run as their docstrings say."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_echo_bot_answers_offline(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(EXAMPLES / "echo_bot.py"))
    assert namespace["main"]([]) == 0
    out = capsys.readouterr().out
    assert "'hello bot' -> replied" in out
    assert "'are you there?' -> replied" in out


def test_webhook_app_receives_and_answers_offline(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(EXAMPLES / "webhook_app.py"))
    assert namespace["main"]() == 0
    out = capsys.readouterr().out
    assert "+14155550123: 'Is my order ready?'" in out
    assert "+16505550188: 'Table for two at 8?'" in out
    assert "2 messages received through the webhook and answered" in out
