"""The IMAP collector against a real Dovecot on loopback (tests/infra/dovecot_only.py).

Messages are put into folders with IMAP APPEND, so these tests are about finding and reading
them back: placement by folder, a missing copy, a refused login, shared mailboxes, TLS.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator

import pytest
from imapclient import IMAPClient

from audit.net.dns import Resolver, StaticBackend, StaticData
from audit.seed.collect import CollectedCopy, CollectError, collect
from audit.seed.config import Seed, parse_seeds
from audit.seed.message import TOKEN_HEADER, build_test_message, new_token
from tests.infra.dovecot_only import Dovecot, running_dovecot

PASSWORD = "s3cret-Seed-pw"
USERS = {
    "seed@seeds.test": PASSWORD,
    "seed2@seeds.test": PASSWORD,
    "seed3@seeds.test": PASSWORD,
    "shared@seeds.test": PASSWORD,
    "spread@seeds.test": PASSWORD,
}


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot(USERS) as server:
        yield server


@pytest.fixture
def resolver() -> Resolver:
    data = StaticData()
    data.add("imap.seeds.test", "A", "127.0.0.1")
    return Resolver(StaticBackend(data))


def _seeds(server: Dovecot, body: str) -> list[Seed]:
    return parse_seeds(
        body.replace("IMAPS", str(server.imaps_port)).replace("IMAP", str(server.imap_port))
    )


def _append(server: Dovecot, user: str, folder: str, message: bytes, flags=()) -> None:
    ctx = ssl.create_default_context(cafile=server.ca_file)
    with IMAPClient(server.host, server.imaps_port, ssl_context=ctx, timeout=10) as client:
        client.login(user, USERS[user])
        if not client.folder_exists(folder):
            client.create_folder(folder)
        client.append(folder, message, flags=flags)


def _message(to: str, token: str) -> bytes:
    return build_test_message("news@sender.test", to, token)


def _run(seeds: list[Seed], token: str, server: Dovecot, wait: float, **options):
    async def main():
        return await collect(
            seeds,
            token,
            deadline=time.monotonic() + wait,
            passwords=options.pop("passwords", {s.address: PASSWORD for s in seeds}),
            ca_file=options.pop("ca_file", server.ca_file),
            timeout=5,
            poll_interval=0.2,
            **options,
        )

    return asyncio.run(main())


def test_inbox_spam_missing_and_refused_login(dovecot: Dovecot, resolver: Resolver) -> None:
    token = new_token()
    _append(dovecot, "seed@seeds.test", "INBOX", _message("seed@seeds.test", token))
    _append(dovecot, "seed2@seeds.test", "Junk", _message("seed2@seeds.test", token))
    # the same recipient, another run's token: not ours
    _append(dovecot, "seed3@seeds.test", "INBOX", _message("seed3@seeds.test", new_token()))
    seeds = _seeds(
        dovecot,
        """
        [[seed]]
        address = "seed@seeds.test"
        imap = "imaps://127.0.0.1:IMAPS"
        password_env = "SEED_PW"

        [[seed]]
        address = "seed2@seeds.test"
        imap = "imap://imap.seeds.test:IMAP"
        starttls = "required"
        password_env = "SEED_PW"

        [[seed]]
        address = "seed3@seeds.test"
        imap = "imaps://imap.seeds.test:IMAPS"
        password_env = "SEED_PW"

        [[seed]]
        address = "wrong@seeds.test"
        username = "seed@seeds.test"
        imap = "imaps://127.0.0.1:IMAPS"
        password_env = "WRONG_PW"
        """,
    )
    passwords = {s.address: PASSWORD for s in seeds}
    passwords["wrong@seeds.test"] = "not-the-Password-42"
    seen: list[str] = []
    results = _run(
        seeds,
        token,
        dovecot,
        wait=1.5,
        passwords=passwords,
        resolver=resolver,
        on_found=lambda address, copy: seen.append(address),
    )

    inbox = results["seed@seeds.test"]
    assert isinstance(inbox, CollectedCopy)
    assert (inbox.folder, inbox.placement) == ("INBOX", "inbox")
    assert f"{TOKEN_HEADER}: {token}".encode() in inbox.raw
    assert inbox.received_at is not None and inbox.received_at.tzinfo is not None

    spam = results["seed2@seeds.test"]
    assert isinstance(spam, CollectedCopy)
    assert (spam.folder, spam.placement) == ("Junk", "spam")

    assert results["seed3@seeds.test"] is None  # searched to the deadline, never found

    refused = results["wrong@seeds.test"]
    assert isinstance(refused, CollectError)
    assert "login" in refused.message and "seed@seeds.test" in refused.message
    assert "not-the-Password-42" not in repr(refused) and PASSWORD not in repr(refused)

    assert sorted(seen) == ["seed2@seeds.test", "seed@seeds.test"]  # found copies only


def test_copy_is_read_without_marking_it_seen(dovecot: Dovecot) -> None:
    token = new_token()
    _append(dovecot, "seed3@seeds.test", "INBOX", _message("seed3@seeds.test", token))
    seeds = _seeds(
        dovecot,
        """
        [[seed]]
        address = "seed3@seeds.test"
        imap = "imaps://127.0.0.1:IMAPS"
        password_env = "SEED_PW"
        """,
    )
    result = _run(seeds, token, dovecot, wait=5)["seed3@seeds.test"]
    assert isinstance(result, CollectedCopy)
    ctx = ssl.create_default_context(cafile=dovecot.ca_file)
    with IMAPClient(dovecot.host, dovecot.imaps_port, ssl_context=ctx, timeout=10) as client:
        client.login("seed3@seeds.test", PASSWORD)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", TOKEN_HEADER, token])
        flags = client.get_flags(uids)
    assert len(uids) == 1 and b"\\Seen" not in flags[uids[0]]


def test_shared_mailbox_attributes_copies_by_recipient(dovecot: Dovecot) -> None:
    """Two seeds reading one account (an alias delivering to Junk): each gets its own copy."""
    token = new_token()
    _append(dovecot, "shared@seeds.test", "INBOX", _message("shared@seeds.test", token))
    _append(dovecot, "shared@seeds.test", "Junk", _message("shared+Junk@seeds.test", token))
    _append(dovecot, "shared@seeds.test", "Archive", _message("shared+arch@seeds.test", token))
    seeds = _seeds(
        dovecot,
        """
        [[seed]]
        address = "shared+Junk@seeds.test"
        username = "shared@seeds.test"
        imap = "imaps://127.0.0.1:IMAPS"
        password_env = "SEED_PW"

        [[seed]]
        address = "shared@seeds.test"
        imap = "imaps://127.0.0.1:IMAPS"
        password_env = "SEED_PW"
        spam = ["Spam"]                  # does not exist here: Junk is found by its \\Junk flag

        [[seed]]
        address = "shared+arch@seeds.test"
        username = "shared@seeds.test"
        imap = "imaps://127.0.0.1:IMAPS"
        password_env = "SEED_PW"
        other = ["Archive", "Nowhere"]
        """,
    )
    results = _run(seeds, token, dovecot, wait=5)
    placements = {
        a: (r.folder, r.placement) for a, r in results.items() if isinstance(r, CollectedCopy)
    }
    assert placements == {
        "shared+Junk@seeds.test": ("Junk", "spam"),
        "shared@seeds.test": ("INBOX", "inbox"),
        "shared+arch@seeds.test": ("Archive", "other"),
    }
    assert (
        "folder 'Nowhere' does not exist: not searched" in results["shared+arch@seeds.test"].notes
    )


def test_copy_arriving_while_polling_is_found(dovecot: Dovecot) -> None:
    token = new_token()
    seeds = _seeds(
        dovecot,
        """
        [[seed]]
        address = "seed2@seeds.test"
        imap = "imap://127.0.0.1:IMAP"
        password_env = "SEED_PW"
        """,
    )
    message = _message("seed2@seeds.test", token)

    def on_found(address, copy):  # may be async too
        return asyncio.sleep(0)

    # Appended half a second in: after the first, empty, search (polls are 0.2 s apart).
    timer = threading.Timer(0.5, _append, (dovecot, "seed2@seeds.test", "INBOX", message))
    timer.start()
    try:
        result = _run(seeds, token, dovecot, wait=30, on_found=on_found)["seed2@seeds.test"]
    finally:
        timer.join()
    assert isinstance(result, CollectedCopy) and result.placement == "inbox"


def test_untrusted_certificate_is_an_error_not_a_missing_copy(dovecot: Dovecot) -> None:
    seeds = _seeds(
        dovecot,
        """
        [[seed]]
        address = "seed@seeds.test"
        imap = "imaps://127.0.0.1:IMAPS"
        password_env = "SEED_PW"

        [[seed]]
        address = "seed2@seeds.test"
        imap = "imap://127.0.0.1:IMAP"
        password_env = "SEED_PW"
        """,
    )
    results = _run(seeds, new_token(), dovecot, wait=30, ca_file=None)  # the system store
    for address in ("seed@seeds.test", "seed2@seeds.test"):
        error = results[address]
        assert isinstance(error, CollectError), address
        assert "certificate" in error.message and PASSWORD not in error.message


def test_unreachable_server_is_an_error_at_the_deadline(dovecot: Dovecot) -> None:
    from tests.infra.netutil import refused_port

    seeds = parse_seeds(
        f"""
        [[seed]]
        address = "seed@seeds.test"
        imap = "imap://127.0.0.1:{refused_port()}"
        password_env = "SEED_PW"
        """
    )
    result = _run(seeds, new_token(), dovecot, wait=0.5)["seed@seeds.test"]
    assert isinstance(result, CollectError)
    assert "connection refused" in result.message


def test_per_seed_tokens_attribute_copies_by_token(dovecot: Dovecot) -> None:
    """With one token per seed, a copy is its seed's whatever its To says."""
    tokens = {"shared@seeds.test": new_token(), "shared+b@seeds.test": new_token()}
    for token in tokens.values():
        message = build_test_message("news@sender.test", "list@lists.test", token)
        _append(dovecot, "shared@seeds.test", "Junk", message)
    seeds = _seeds(
        dovecot,
        """
        [[seed]]
        address = "shared@seeds.test"
        imap = "imaps://127.0.0.1:IMAPS"
        password_env = "SEED_PW"

        [[seed]]
        address = "shared+b@seeds.test"
        username = "shared@seeds.test"
        imap = "imap://127.0.0.1:IMAP"
        password_env = "SEED_PW"
        """,
    )
    results = _run(seeds, tokens, dovecot, wait=5)
    for address, token in tokens.items():
        copy = results[address]
        assert isinstance(copy, CollectedCopy) and copy.placement == "spam"
        assert f"{TOKEN_HEADER}: {token}".encode() in copy.raw


def test_copy_in_an_unconfigured_folder_is_found_as_other(dovecot: Dovecot) -> None:
    """Filed outside the configured folders: found in any selectable folder but Drafts/Sent,
    as "other"; a copy also in the inbox or spam is that (\\All holds every copy, as Gmail's)."""
    where = {
        "spread+plain@seeds.test": ["Receipts"],  # a user folder a filter moved it to
        "spread+trash@seeds.test": ["Trash"],
        "spread+all@seeds.test": ["All Mail"],
        "spread+inbox@seeds.test": ["All Mail", "INBOX"],
        "spread+spam@seeds.test": ["All Mail", "Junk"],
        "spread+sent@seeds.test": ["Sent", "Drafts"],  # our own copies: never the seed's
    }
    tokens = {address: new_token() for address in where}
    for address, folders in where.items():
        for folder in folders:
            _append(dovecot, "spread@seeds.test", folder, _message(address, tokens[address]))
    seeds = _seeds(
        dovecot,
        "".join(
            f"""
            [[seed]]
            address = "{address}"
            username = "spread@seeds.test"
            imap = "imaps://127.0.0.1:IMAPS"
            password_env = "SEED_PW"
            """
            for address in where
        ),
    )
    results = _run(seeds, tokens, dovecot, wait=1.5)
    placements = {
        a: (r.folder, r.placement) if isinstance(r, CollectedCopy) else r
        for a, r in results.items()
    }
    assert placements == {
        "spread+plain@seeds.test": ("Receipts", "other"),
        "spread+trash@seeds.test": ("Trash", "other"),
        "spread+all@seeds.test": ("All Mail", "other"),
        "spread+inbox@seeds.test": ("INBOX", "inbox"),
        "spread+spam@seeds.test": ("Junk", "spam"),
        "spread+sent@seeds.test": None,
    }
