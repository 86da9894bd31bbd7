"""The pytest plugin as a user's own test suite meets it (run in an inner pytest)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

USES_FAKE = """
import messaging_hub as mh

async def test_sends(fake_netsapiens):
    async with mh.connect(fake_netsapiens.config) as client:
        receipt = await client.send(mh.Outgoing(to=["1004"], text="hi"))
    assert receipt.session_id
"""


def test_an_async_test_without_a_mark_runs_on_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_FAKE)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_an_async_test_with_the_anyio_mark_runs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\npytestmark = pytest.mark.anyio\n" + USES_FAKE)
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_sync_test_gets_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_sync(fake_textmagic):
            assert fake_textmagic.config
        def test_next_one_is_unaffected():
            assert True
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*test_sync* uses fake_textmagic*write the test as 'async def'*"])
