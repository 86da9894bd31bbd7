"""The command line as a user drives it: JSON output, exit codes, config layering."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from messaging_hub import __version__
from messaging_hub.cli import _parser, main
from messaging_hub.testing.netsapiens import FakeNetSapiens


@pytest.fixture
def fake() -> Iterator[FakeNetSapiens]:
    """A fake NetSapiens served from another thread (main() runs its own loop)."""
    started = threading.Event()
    stop = threading.Event()
    box: dict[str, FakeNetSapiens] = {}

    async def serve() -> None:
        async with FakeNetSapiens() as server:
            box["fake"] = server
            started.set()
            await anyio.to_thread.run_sync(stop.wait)

    thread = threading.Thread(target=anyio.run, args=(serve,))
    thread.start()
    try:
        assert started.wait(10)
        yield box["fake"]
    finally:
        stop.set()
        thread.join(10)


@pytest.fixture
def config(fake: FakeNetSapiens, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TOML file with the fake's options; no MESSAGING_HUB_* variables around."""
    for name in [n for n in __import__("os").environ if n.startswith("MESSAGING_HUB_")]:
        monkeypatch.delenv(name)
    lines = ["[messaging_hub]"] + [f"{k} = {json.dumps(v)}" for k, v in fake.config.items()]
    path = tmp_path / "hub.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"messaging-hub {__version__}"


def test_json_on_send_sessions_history_and_delete(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config), "--json"]
    assert main(["send", *base, "--to", "1004", "--text", "json please"]) == 0
    (receipt,) = _json_lines(capsys.readouterr().out)
    session_id = receipt["session_id"]
    assert receipt["provider"] == "netsapiens"
    assert main(["send", *base, "--to", "1004", "--text", "again", "--session", session_id]) == 0
    capsys.readouterr()
    assert main(["sessions", *base]) == 0
    sessions = _json_lines(capsys.readouterr().out)
    assert session_id in [s["id"] for s in sessions]
    assert main(["history", *base, session_id]) == 0
    messages = _json_lines(capsys.readouterr().out)
    assert [m["text"] for m in messages] == ["again", "json please"]
    assert {m["direction"] for m in messages} == {"outbound"}
    assert main(["delete", *base, session_id]) == 0
    assert _json_lines(capsys.readouterr().out) == [{"deleted": session_id}]
    assert main(["sessions", *base]) == 0
    assert session_id not in capsys.readouterr().out


def test_plain_output_of_send_sessions_and_history(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["send", "--config", str(config), "--to", "1004", "--text", "from cli"]) == 0
    session_id = capsys.readouterr().out.split("session ")[1].split()[0]
    assert main(["sessions", "--config", str(config)]) == 0
    assert session_id in capsys.readouterr().out
    assert main(["history", "--config", str(config), session_id]) == 0
    assert "from cli" in capsys.readouterr().out


def test_history_shows_direction(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--config", str(config), "--to", "1004", "--text", "hi"]) == 0
    session_id = capsys.readouterr().out.split("session ")[1].split()[0]
    assert main(["history", "--config", str(config), session_id]) == 0
    assert "\toutbound\t" in capsys.readouterr().out


def test_send_with_an_attachment(
    config: Path, fake: FakeNetSapiens, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picture = tmp_path / "cat.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    argv = ["send", "--config", str(config), "--to", "1004", "--attach", str(picture)]
    assert main(argv) == 0
    sent = fake.requests_to("POST", r"/messages$")[-1].json()
    assert sent["type"] == "chat-media"
    assert sent.get("mime-type") == "image/png"


def test_missing_attachment_file_is_a_bad_request(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["send", "--config", str(config), "--to", "1004", "--attach", "/no/such/file.png"]
    assert main(argv) == 8
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["sessions", "-o", "base_url=https://x.example/ns-api/v2", "--provider", "nope"], 3),
        (["sessions", "--provider", "netsapiens", "-o", "acess_token=x"], 3),
        (["send", "--to", "12ab", "--text", "x"], 8),
    ],
    ids=["unknown-provider", "typo-option", "bad-recipient"],
)
def test_exit_codes_by_error_kind(
    config: Path, argv: list[str], code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--provider" not in argv:
        argv = [*argv, "--config", str(config)]
    assert main(argv) == code
    assert capsys.readouterr().err.startswith("error: ")


def test_refused_credentials_exit_4(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sessions", "--config", str(config), "-o", "access_token=wrong-token", "--json"]
    assert main(argv) == 4
    error = json.loads(capsys.readouterr().err)
    assert error["error"] == "AuthenticationError"
    assert "wrong-token" not in error["message"]


def test_unsupported_operation_exits_9(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["delete", "--provider", "mongooseim", "x"]
    for option in ("base_url=http://127.0.0.1:9/api", "api=admin-rest", "owner=alice@localhost"):
        argv[1:1] = ["-o", option]
    assert main(argv) == 9  # refused before any request: nothing listens on port 9
    assert "not supported" in capsys.readouterr().err


def test_flags_override_environment_override_file(
    config: Path, fake: FakeNetSapiens, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file's token is right; the environment's is wrong; the flag fixes it again.
    monkeypatch.setenv("MESSAGING_HUB_ACCESS_TOKEN", "wrong-from-env")
    assert main(["sessions", "--config", str(config)]) == 4  # env beats file
    token = str(fake.config["access_token"])
    assert main(["sessions", "--config", str(config), "-o", f"access_token={token}"]) == 0


def test_help_has_no_markup_and_every_option_a_help_line() -> None:
    parser = _parser()
    assert "``" not in parser.format_help()
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in subparsers[0].choices.items():
        text = sub.format_help()
        assert "``" not in text and ":func:" not in text, name
        for action in sub._actions:
            assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
