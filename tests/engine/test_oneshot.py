import gc

import pytest
import trio
import trio.testing

from trio_crawl import engine
from trio_crawl.engine import (
    AlreadyReceivedError,
    AlreadySentError,
    ErrorKind,
    FatalError,
    SenderClosedError,
    oneshot,
    spawn,
)


async def test_value_sent_once_is_received() -> None:
    sender, receiver = oneshot()
    sender.send(42)
    assert await receiver.receive() == 42


async def test_double_send_raises() -> None:
    sender, _ = oneshot()
    sender.send(1)
    with pytest.raises(AlreadySentError):
        sender.send(2)


async def test_send_after_close_raises() -> None:
    sender, _ = oneshot()
    sender.close()
    with pytest.raises(AlreadySentError):
        sender.send(1)


async def test_second_receive_raises() -> None:
    sender, receiver = oneshot()
    sender.send(1)
    await receiver.receive()
    with pytest.raises(AlreadyReceivedError):
        await receiver.receive()


async def test_receive_after_sender_closed_raises_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sender, receiver = oneshot()
    with sender:
        pass
    start = trio.current_time()
    with pytest.raises(SenderClosedError):
        await receiver.receive()
    assert trio.current_time() == start


async def test_waiting_receiver_is_woken_when_sender_closes() -> None:
    sender, receiver = oneshot()
    errors: list[BaseException] = []

    async def wait() -> None:
        try:
            await receiver.receive()
        except SenderClosedError as exc:
            errors.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wait)
        await trio.testing.wait_all_tasks_blocked()
        sender.close()
    assert len(errors) == 1


async def test_garbage_collected_sender_wakes_receiver() -> None:
    sender, receiver = oneshot()
    del sender
    gc.collect()
    with pytest.raises(SenderClosedError):
        await receiver.receive()


class _Silent:
    name = "silent"

    async def run(self, control: object, report: object) -> None:
        return None


class _Crashing:
    name = "crashing"

    async def run(self, control: object, report: object) -> None:
        raise RuntimeError("boom")


async def test_actor_exit_without_report_is_channel_closed() -> None:
    async with trio.open_nursery() as nursery:
        child = spawn(nursery, _Silent())
        result = await child.result()
    assert isinstance(result, FatalError)
    assert result.kind is ErrorKind.channel_closed


async def test_actor_crash_reaches_parent_as_internal_fatal_error() -> None:
    async with trio.open_nursery() as nursery:
        child = spawn(nursery, _Crashing())
        result = await child.result()
    assert isinstance(result, FatalError)
    assert result.kind is ErrorKind.internal
    assert isinstance(result.error.__cause__, RuntimeError)


async def test_child_that_never_reports_times_out_as_typed_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class Stuck:
        name = "stuck"

        async def run(self, control: object, report: object) -> None:
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        child = spawn(nursery, Stuck())
        result = await child.result(within=5)
    assert isinstance(result, FatalError)
    assert result.kind is ErrorKind.stage_timeout
    assert trio.current_time() == pytest.approx(5)


def test_cancelled_is_not_swallowed_by_the_actor_guard() -> None:
    class Sleeper:
        name = "sleeper"

        async def run(self, control: object, report: object) -> None:
            await trio.sleep_forever()

    async def main() -> bool:
        with trio.move_on_after(1) as scope:
            async with trio.open_nursery() as nursery:
                child = spawn(nursery, Sleeper())
                await child.result()
        return scope.cancelled_caught

    assert trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert engine.oneshot is oneshot
