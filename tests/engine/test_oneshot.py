import gc
import signal
from typing import Any

import pytest
import trio
import trio.testing

from trio_crawl import engine
from trio_crawl.engine import (
    AlreadyReceivedError,
    AlreadySentError,
    ErrorKind,
    FatalError,
    OneshotReceiver,
    OneshotSender,
    SenderClosedError,
    oneshot,
)
from trio_crawl.engine.actor import Child, spawn


def int_oneshot() -> tuple[OneshotSender[int], OneshotReceiver[int]]:
    return oneshot()


async def test_value_sent_once_is_received() -> None:
    sender, receiver = int_oneshot()
    sender.send(42)
    assert await receiver.receive() == 42


async def test_double_send_raises() -> None:
    sender, _ = int_oneshot()
    sender.send(1)
    with pytest.raises(AlreadySentError):
        sender.send(2)


async def test_send_after_close_raises() -> None:
    sender, _ = int_oneshot()
    sender.close()
    with pytest.raises(AlreadySentError):
        sender.send(1)


async def test_second_receive_raises() -> None:
    sender, receiver = int_oneshot()
    sender.send(1)
    await receiver.receive()
    with pytest.raises(AlreadyReceivedError):
        await receiver.receive()


async def test_receive_after_sender_closed_raises_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sender, receiver = int_oneshot()
    with sender:
        pass
    start = trio.current_time()
    with pytest.raises(SenderClosedError):
        await receiver.receive()
    assert trio.current_time() == start


async def test_waiting_receiver_is_woken_when_sender_closes() -> None:
    sender, receiver = int_oneshot()
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
    sender, receiver = int_oneshot()
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
        child: Child[object] = spawn(nursery, _Silent())
        result = await child.result()
    assert isinstance(result, FatalError)
    assert result.kind is ErrorKind.channel_closed


async def test_actor_crash_reaches_parent_as_internal_fatal_error() -> None:
    async with trio.open_nursery() as nursery:
        child: Child[object] = spawn(nursery, _Crashing())
        result = await child.result()
    assert isinstance(result, FatalError)
    assert result.kind is ErrorKind.internal
    assert isinstance(result.error.__cause__, RuntimeError)


class _Sleeper:
    name = "sleeper"

    async def run(self, control: object, report: object) -> None:
        await trio.sleep_forever()


async def test_cancelled_is_not_swallowed_by_the_actor_guard(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A cancelled child must end by cancellation: no report (so channel_closed, never an
    `internal` crash report) and the Cancelled reaches the scope that was cancelled."""
    after_child: list[str] = []
    with trio.move_on_after(1) as scope:
        async with trio.open_nursery() as nursery:
            child: Child[object] = spawn(nursery, _Sleeper())
            await trio.sleep_forever()
        after_child.append("the nursery body went on")
    assert scope.cancelled_caught and after_child == []
    result = await child.result()
    assert isinstance(result, FatalError)
    assert result.kind is ErrorKind.channel_closed
    assert engine.oneshot is oneshot


async def test_the_guard_reraises_cancelled_itself(autojump_clock: trio.testing.MockClock) -> None:
    from trio_crawl.engine.actor import _guarded

    _send, receive = trio.open_memory_channel[Any](1)
    sender, _receiver = int_oneshot()
    raised: list[type[BaseException]] = []
    with trio.CancelScope() as outer:
        outer.cancel()
        try:
            await _guarded(_Sleeper(), receive, sender, trio.CancelScope(), None)
        except trio.Cancelled:
            raised.append(trio.Cancelled)
            raise
    assert raised == [trio.Cancelled]
    assert not sender.sent


class _RaisesWhileCancelled:
    name = "raises while cancelled"

    async def run(self, control: object, report: object) -> None:
        async def broken_cleanup() -> None:
            try:
                await trio.sleep_forever()
            finally:
                raise ValueError("cleanup broke")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(trio.sleep_forever)
            nursery.start_soon(broken_cleanup)


async def test_a_child_that_raises_while_being_cancelled_reports_internal_not_crash(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Its BaseExceptionGroup[Cancelled, ValueError]: the ValueError is the child's failure,
    the Cancelled is the cancellation; the parent goes on."""
    async with trio.open_nursery() as nursery:
        child: Child[object] = spawn(nursery, _RaisesWhileCancelled())
        await trio.sleep(1)
        child.scope.cancel()
        result = await child.result()
    assert isinstance(result, FatalError) and result.kind is ErrorKind.internal
    cause = result.error.__cause__
    assert isinstance(cause, ExceptionGroup)
    assert [type(e) for e in cause.exceptions] == [ValueError]


async def test_a_failure_after_the_report_is_kept() -> None:
    class ReportsThenRaises:
        name = "reports then raises"

        async def run(self, control: object, report: Any) -> None:
            report.send("done")
            raise RuntimeError("after the report")

    late: list[BaseException] = []
    async with trio.open_nursery() as nursery:
        child: Child[object] = spawn(nursery, ReportsThenRaises(), late_errors=late)
        assert await child.result() == "done"
    assert [str(e) for e in late] == ["after the report"]


class _InterruptedEvent:
    """A one-shot's event whose `set` is hit by Ctrl-C just before it wakes the receiver:
    the moment between marking the one-shot sent and waking its receiver."""

    def __init__(self, event: trio.Event) -> None:
        self._event = event

    def set(self) -> None:
        signal.raise_signal(signal.SIGINT)
        self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


def test_a_ctrl_c_during_send_does_not_lose_the_value() -> None:
    # trio delivers a SIGINT as a KeyboardInterrupt where the code is not protected from it;
    # a send cut between "sent" and "receiver woken" would leave the receiver waiting forever.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    got: list[int] = []
    raised_in_send: list[bool] = []

    async def main() -> None:
        sender, receiver = int_oneshot()
        sender._state.event = _InterruptedEvent(sender._state.event)  # type: ignore[assignment]

        async def receive() -> None:
            with trio.CancelScope(shield=True), trio.move_on_after(60):
                got.append(await receiver.receive())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receive)
            await trio.testing.wait_all_tasks_blocked()
            try:
                sender.send(42)
            except KeyboardInterrupt:
                raised_in_send.append(True)

    try:
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    except* KeyboardInterrupt:  # delivered once the send is done
        pass
    assert raised_in_send == []
    assert got == [42]
