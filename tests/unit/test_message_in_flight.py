"""audit_messages starts messages in input order as room frees up (a count and a byte budget)
and hands reports on in input order, even when later messages finish first."""

from __future__ import annotations

import asyncio

from audit.message.load import RawMessage
from audit.message_audit import audit_messages
from audit.net.dns import StaticBackend

SLOW = "slow.test"


def _message(i: int, domain: str, body: bytes = b"hi\r\n") -> RawMessage:
    raw = (
        f"From: a@{domain}\r\nTo: b@receiver.example\r\nSubject: {i}\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{i}@{domain}>\r\n\r\n"
    ).encode() + body
    return RawMessage(f"box#{i}", raw)


class SlowSender:
    """The fixture zones, with every question about SLOW held back a while."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def lookup(self, name, rdtype):
        if name.endswith(SLOW):
            await asyncio.sleep(0.05)
        return await self.inner.lookup(name, rdtype)


class Watch:
    """A CheckObserver noting which messages are being audited at once."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.most = 0
        self.together: list[set[str]] = []

    def check_started(self, target: str, check: str) -> None:
        self.open[target] = self.open.get(target, 0) + 1
        self.most = max(self.most, len(self.open))
        self.together.append(set(self.open))

    def check_finished(self, outcome) -> None:
        self.open[outcome.target] -= 1
        if not self.open[outcome.target] and outcome.check == "bulk":
            del self.open[outcome.target]


def _run(messages, zone_data, **options):
    watch, done = Watch(), []
    reports = asyncio.run(
        audit_messages(
            messages,
            SlowSender(StaticBackend(zone_data)),
            observer=watch,
            on_done=lambda r: done.append(r.target),
            **options,
        )
    )
    return reports, done, watch


def test_reports_keep_input_order_when_later_messages_finish_first(zone_data):
    messages = [_message(0, SLOW)] + [_message(i, "clean.test") for i in range(1, 6)]
    reports, done, watch = _run(messages, zone_data, in_flight=4)
    targets = [f"box#{i}" for i in range(6)]
    assert [r.target for r in reports] == targets
    assert done == targets  # on_done too: #1..#5 finished before #0 but waited for it
    assert watch.most == 4  # never more than in_flight at once
    assert any({"box#0", "box#3"} <= group for group in watch.together)  # #0 blocks no start


def test_byte_budget_lets_an_oversized_message_run_alone(zone_data):
    big = _message(2, "clean.test", b"x" * 5000 + b"\r\n")
    messages = [
        _message(0, "clean.test"),
        _message(1, "clean.test"),
        big,
        _message(3, "clean.test"),
    ]
    reports, done, watch = _run(messages, zone_data, in_flight=8, in_flight_bytes=4000)
    assert [r.target for r in reports] == [f"box#{i}" for i in range(4)] == done
    assert all(group == {"box#2"} for group in watch.together if "box#2" in group)
    assert watch.most == 2  # #0 and #1 fit the budget together; #2 waited for both
