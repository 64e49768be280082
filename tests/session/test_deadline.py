"""The opening handshake's deadline on Python 3.10 (asyncio.timeout's stand-in).

:class:`aiows.session.deadline.Deadline` runs on every version here, so it
is tested where it is not used too.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from aiows.session.deadline import Deadline, timeout


async def test_it_cancels_the_block_and_raises_a_timeout() -> None:
    never = asyncio.Event()
    deadline = Deadline(0.05)
    with pytest.raises(asyncio.TimeoutError) as info:
        async with deadline:
            await never.wait()
    assert deadline.expired()
    assert isinstance(info.value.__cause__, asyncio.CancelledError)


async def test_a_block_that_ends_in_time_is_left_alone() -> None:
    deadline = Deadline(0.05)
    async with deadline:
        pass
    assert not deadline.expired()
    # The timer is gone: the task is not cancelled later on.
    done = asyncio.Event()
    asyncio.get_running_loop().call_later(0.1, done.set)
    await done.wait()


async def test_a_cancellation_from_outside_stays_one() -> None:
    entered = asyncio.Event()
    deadline = Deadline(10)

    async def block() -> None:
        async with deadline:
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(block())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not deadline.expired()


async def test_other_errors_go_through() -> None:
    deadline = Deadline(10)
    with pytest.raises(LookupError):
        async with deadline:
            raise LookupError("the block's own")
    assert not deadline.expired()


def test_timeout_is_asyncio_s_where_there_is_one() -> None:
    if sys.version_info >= (3, 11):
        assert timeout is asyncio.timeout
    else:
        assert isinstance(timeout(1.0), Deadline)
