"""The fake NetSapiens answers with every field the official spec requires."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import aiohttp
import pytest
from yarl import URL

from messaging_hub.testing.netsapiens import FakeNetSapiens

pytestmark = pytest.mark.anyio

SPEC = (
    Path(__file__).resolve().parents[3]
    / "shared/specs/netsapiens/netsapiens-api-v2.messages-auth.openapi.json"
)


def _required(schema: str) -> set[str]:
    if not SPEC.exists():
        pytest.skip("the provider specs (shared/specs) are not beside this checkout")
    spec: dict[str, Any] = json.loads(SPEC.read_text())
    return set(spec["components"]["schemas"][schema]["required"])


def _spelled(fields: set[str], spelling: str) -> set[str]:
    # The schema says "-datetime"; recorded answers (and the fake by default)
    # say "-timestamp". Both spellings are accepted by the adapter.
    return {f.replace("-datetime", f"-{spelling}") for f in fields}


@pytest.mark.parametrize("spelling", ["timestamp", "datetime"])
async def test_sessions_and_messages_carry_every_required_field(
    spelling: Literal["timestamp", "datetime"],
) -> None:
    session_fields = _spelled(_required("Messagesession"), spelling)
    message_fields = _spelled(_required("Message"), spelling)
    token_fields = _required("AccessToken")
    async with FakeNetSapiens(timestamp_spelling=spelling) as fake:
        sid = fake.seed_session(2)
        base = f"{fake.base_url}/domains/acme/users/1000/messagesessions"
        headers = {"Authorization": f"Bearer {fake.access_token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.get(base) as resp:
                sessions = await resp.json()
            async with http.get(f"{base}/{sid}/messages") as resp:
                messages = await resp.json()
            login, password = fake.users["1000"]
            grant = {
                "grant_type": "password",
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "username": login,
                "password": password,
            }
            async with http.post(f"{fake.base_url}/tokens", json=grant) as resp:
                token = await resp.json()
    assert sessions and messages
    for item in sessions:
        assert session_fields <= set(item), session_fields - set(item)
    for item in messages:
        assert message_fields <= set(item), message_fields - set(item)
    assert token_fields <= set(token), token_fields - set(token)


async def test_the_fake_refuses_a_new_session_id_with_a_trailing_newline() -> None:
    async with FakeNetSapiens() as fake:
        sid = "a" * 40 + "%0A"  # 40 valid characters, then an encoded newline
        url = f"{fake.base_url}/domains/acme/users/1000/messagesessions/{sid}/messages"
        headers = {"Authorization": f"Bearer {fake.access_token}"}
        body = {"type": "chat", "message": "hi", "destination": "1004"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(URL(url, encoded=True), json=body) as resp:
                assert resp.status == 400
            async with http.get(URL(url, encoded=True)) as resp:
                assert resp.status == 400
        assert fake.sessions["1000"] == {}
