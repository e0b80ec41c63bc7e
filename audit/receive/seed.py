"""The inbox as a seed mailbox (a `receive` seed in the seed list): no IMAP, the copy is read
from the inbox's state file once the inbox has audited it."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import time
from pathlib import Path

from audit.receive.copy import stored_copy
from audit.receive.store import DONE, InboxStore
from audit.receive.tokens import token_of

SEED_FOLDER = "INBOX"


def _carries(raw: bytes, header: str, token: str) -> bool:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    message = email.message_from_bytes(head + b"\r\n\r\n", policy=email.policy.compat32)
    return any(str(v).strip() == token for v in message.get_all(header) or [])


def find_copy(state: Path, address: str, header: str, token: str) -> tuple[bytes, str] | None:
    """(the delivered copy, when it arrived) of the audited message to ADDRESS carrying
    `header: token`, or None while there is none. Raises InboxError / ValueError for an
    unusable inbox or an address that is not an issued test."""
    test_token = token_of(address)
    with InboxStore(state) as store:
        test = store.test(test_token)
        if test is None:
            raise ValueError(f"{address} is not a test of the inbox {state}")
        for record in store.messages(test_token):
            if record.status not in DONE:
                continue
            found = stored_copy(store, record, test.domain)
            if found is not None and _carries(found[0], header, token):
                return found[0], found[1].arrived
    return None


async def poll_inbox(
    state: Path, address: str, header: str, token: str, deadline: float, interval: float
) -> tuple[bytes, dt.datetime] | None:
    """Poll until the copy is there or `deadline` (time.monotonic()) passes (at least once)."""
    while True:
        found = await asyncio.to_thread(find_copy, state, address, header, token)
        if found is not None:
            return found[0], dt.datetime.fromisoformat(found[1])
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(min(interval, max(deadline - time.monotonic(), 0.01)))
