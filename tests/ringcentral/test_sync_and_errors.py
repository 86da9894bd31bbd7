"""Message sync (full, then incremental) and RingCentral error bodies."""

from __future__ import annotations

import json

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

import messaging_hub as mh
from messaging_hub.adapters.ringcentral import RingCentralAdapter
from messaging_hub.adapters.ringcentral.errors import parse_error
from messaging_hub.testing.ringcentral import FakeRingCentral
from messaging_hub.transport.http import error_for_status

pytestmark = pytest.mark.anyio

REMOTE = "+14155550123"


async def test_full_sync_then_incremental_sees_only_new_messages(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    fake.seed_messages(3)
    full = await client.native.sync_messages(message_type="SMS")
    assert full.sync_info.sync_type == "FSync"
    assert len(full.records) == 3
    token = full.sync_info.sync_token
    assert token
    assert token not in repr(full.sync_info)

    fresh = fake.deliver_inbound(REMOTE, "new one")
    incremental = await client.native.sync_messages(sync_token=token)
    assert incremental.sync_info.sync_type == "ISync"
    assert [r.id for r in incremental.records] == [fresh.id]
    request = fake.requests_to("GET", "/message-sync$")[-1]
    assert request.query["syncType"] == "ISync" and request.query["syncToken"] == token

    again = await client.native.sync_messages(sync_token=incremental.sync_info.sync_token)
    assert again.records == []


async def test_full_sync_record_count_reports_older_records(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    fake.seed_messages(5)
    page = await client.native.sync_messages(sync_type="FSync", record_count=2)
    assert len(page.records) == 2
    assert page.sync_info.older_records_exist is True
    with pytest.raises(mh.InvalidRequest):
        await client.native.sync_messages(sync_type="FSync", sync_token="abc")


async def test_unknown_sync_token_is_a_bad_request_naming_the_parameter(
    client: RingCentralAdapter,
) -> None:
    with pytest.raises(mh.BadRequest) as info:
        await client.native.sync_messages(sync_token="bogus")
    assert info.value.code == "CMN-101"
    assert info.value.field_errors == {"syncToken": ["Parameter [syncToken] value is invalid"]}


def _parse(status: int, body: object) -> mh.ProviderError:
    raw = json.dumps(body).encode()
    headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
    return error_for_status(status, parse_error(status, raw, headers), provider="ringcentral")


def test_spec_shape_errors_array_only() -> None:
    error = _parse(400, {"errors": [{"errorCode": "CMN-103", "message": "JSON can't be parsed."}]})
    assert isinstance(error, mh.BadRequest)
    assert (error.code, error.message) == ("CMN-103", "JSON can't be parsed.")


def test_parameter_names_become_field_errors_on_400() -> None:
    error = _parse(
        400,
        {
            "errors": [
                {
                    "errorCode": "CNM-100",
                    "message": "Mandatory parameter [originalStrings.originalString] missing",
                    "parameterName": "originalStrings.originalString",
                }
            ]
        },
    )
    assert isinstance(error, mh.BadRequest)
    assert error.code == "CNM-100"
    assert error.field == "originalStrings.originalString"


def test_404_with_parameter_name_stays_not_found() -> None:
    body = {
        "errorCode": "CMN-102",
        "message": "Resource for parameter [messageId] is not found",
        "errors": [
            {
                "errorCode": "CMN-102",
                "message": "Resource for parameter [messageId] is not found",
                "parameterName": "messageId",
            }
        ],
        "parameterName": "messageId",
    }
    error = _parse(404, body)
    assert type(error) is mh.NotFound
    assert error.code == "CMN-102"
    assert error.details["parameters"] == {
        "messageId": ["Resource for parameter [messageId] is not found"]
    }


def test_oauth_error_keeps_both_codes() -> None:
    error = _parse(
        400,
        {
            "error": "invalid_grant",
            "error_description": "Invalid resource owner credentials.",
            "errors": [{"errorCode": "OAU-140", "message": "Invalid resource owner credentials."}],
        },
    )
    assert error.code == "OAU-140"
    assert error.message == "Invalid resource owner credentials."
    assert error.details["oauth_error"] == "invalid_grant"
    bare = _parse(400, {"error": "unsupported_grant_type", "error_description": "no"})
    assert (bare.code, bare.message) == ("unsupported_grant_type", "no")


def test_429_body_and_non_json_bodies() -> None:
    error = _parse(
        429,
        {
            "errorCode": "CMN-301",
            "message": "Request rate exceeded",
            "errors": [{"errorCode": "CMN-301", "message": "Request rate exceeded"}],
        },
    )
    assert isinstance(error, mh.RateLimited) and error.code == "CMN-301"
    headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())
    assert parse_error(502, b"<html>bad gateway</html>", headers).message is None
    assert parse_error(503, b"try later", headers).message == "try later"
    assert parse_error(500, b'"oops"', headers).message == "oops"


async def test_api_errors_reach_the_user_typed(
    fake: FakeRingCentral, client: RingCentralAdapter
) -> None:
    fake.fail(
        status=403,
        body=json.dumps(
            {
                "errorCode": "CMN-408",
                "message": "In order to call this API endpoint, user needs to have permission",
                "errors": [{"errorCode": "CMN-408", "message": "needs permission"}],
            }
        ),
        path="/message-store$",
    )
    with pytest.raises(mh.PermissionDenied) as info:
        await client.native.list_messages()
    assert info.value.code == "CMN-408"
    assert info.value.status == 403
