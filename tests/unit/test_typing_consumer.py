"""A downstream project type-checks against the installed package, as users do.

Runs ``mypy --strict`` on a small application outside the project tree, so
the package is found through the (editable) install, not the checkout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APP = """
import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAPI


async def main() -> None:
    client = mh.connect("ringcentral", client_id="x", client_secret="y", jwt="z")
    api: RingCentralAPI = client.native
    receipt: mh.Receipt = await client.send(mh.Outgoing(to=["+14155550123"], text="hi"))
    hub = mh.Hub.from_config({"accounts": {"sms": {"provider": "ringcentral"}}})
    narrowed: RingCentralAPI = hub["sms"].native_as(RingCentralAPI)
    print(api, narrowed, receipt.session_id)
"""


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "app.py").write_text(source, encoding="utf-8")
    return subprocess.run(  # noqa: S603 - our own interpreter and a fixed command
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / ".cache"),
            "app.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_mypy_strict_finds_the_installed_package(tmp_path: Path) -> None:
    result = _mypy(tmp_path, APP)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_sees_the_real_types(tmp_path: Path) -> None:
    wrong = APP + "\n\ndef oops() -> int:\n    return mh.Receipt(session_id='s', provider='p')\n"
    result = _mypy(tmp_path, wrong)
    assert result.returncode == 1
    assert 'Incompatible return value type (got "Receipt", expected "int")' in result.stdout
