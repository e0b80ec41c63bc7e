"""Reading the test message back: IMAP polling of every seed's inbox and spam folders.

The configured folders (and any folder flagged \\Junk) are searched on every poll. A copy filed
anywhere else (an archive, the trash, a user folder a filter moved it to) is looked for too:
every selectable folder except \\Drafts and \\Sent, on every few polls and on the last one,
reported as placement "other". Those come last, and a hit there is checked against the inbox and
spam folders once more before it counts: Gmail's \\All holds every inbox copy too.

imapclient is blocking, so each seed is polled in its own thread and all seeds at once; the
async side only resolves host names (through our Resolver: the house rule is one road to DNS)
and waits. A seed's result is its copy, `None` when no copy arrived by the deadline (after a
complete search), or a `CollectError` when the mailbox could not be searched: unknown is not
absent. Copies are fetched with BODY.PEEK[] from folders opened read-only, so nothing in the
mailbox changes (not even the \\Seen flag).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.parser
import email.policy
import imaplib
import inspect
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path

from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from audit.net.dns import Resolver, build_resolver, is_ip_literal
from audit.net.imap_text import error_text, scrub
from audit.net.once import OnceCache

from .config import Seed
from .message import TOKEN_HEADER, check_token

MAX_THREADS = 64
FALLBACK_EVERY = 5  # polls between searches of the fallback folders (and on the last poll)
MAX_FALLBACK_FOLDERS = 50  # plain folders searched as fallback, besides special-use ones
SKIPPED_USES = {"\\drafts", "\\sent", "\\noselect", "\\nonexistent"}
# Fallback order: plain folders first (most specific), views of everything last.
FALLBACK_ORDER = ("\\archive", "\\trash", "\\flagged", "\\important", "\\all")


@dataclass(frozen=True)
class CollectedCopy:
    """The copy found in a seed mailbox."""

    seed: str  # the seed address
    folder: str
    placement: str  # inbox | spam | other
    raw: bytes  # the full message as stored (its real Received chain, the receiver's A-R)
    found_at: dt.datetime  # UTC, when we read it
    found_monotonic: float  # time.monotonic() then: subtract a monotonic send time for the delay
    received_at: dt.datetime | None  # the server's INTERNALDATE: when it arrived
    elapsed_s: float  # from the start of collect() to finding it
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CollectError:
    """The mailbox could not be (completely) searched: whether a copy arrived is unknown."""

    seed: str
    message: str  # one line, never the password
    notes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.message


CollectResult = CollectedCopy | CollectError | None
OnFound = Callable[[str, CollectedCopy], object]  # (seed address, copy); may return an awaitable


class _Fatal(Exception):
    """A failure retrying will not fix (login refused, certificate not trusted, no STARTTLS)."""


async def collect(
    seeds: Sequence[Seed],
    token: str | Mapping[str, str],
    *,
    deadline: float,
    passwords: Mapping[str, str],
    ca_file: str | None,
    timeout: float,
    poll_interval: float = 2.0,
    on_found: OnFound | None = None,
    resolver: Resolver | None = None,
) -> dict[str, CollectResult]:
    """Poll every seed's folders for its token until each copy is found or `deadline`
    (time.monotonic()) passes. Returns {seed address: copy | CollectError | None (missing)}.

    `token` is the run's token, or {seed address: token} (one per seed). `passwords` maps seed
    address to IMAP password. `on_found(address, copy)` (sync or async) is called as each copy
    is found. `timeout` bounds every connect and IMAP command.
    """
    tokens = {
        s.address: check_token(token if isinstance(token, str) else token[s.address]) for s in seeds
    }
    run = _Collection(seeds, tokens, deadline, passwords, ca_file, timeout, poll_interval, resolver)
    try:
        await asyncio.gather(*(run.one(s, on_found) for s in seeds))
    finally:
        run.close()
    return {s.address: run.results.get(s.address) for s in seeds}


class _Collection:
    """One collect() call: the seeds' shared TLS context, host lookups and IMAP threads."""

    def __init__(
        self,
        seeds: Sequence[Seed],
        tokens: dict[str, str],
        deadline: float,
        passwords: Mapping[str, str],
        ca_file: str | None,
        timeout: float,
        poll_interval: float,
        resolver: Resolver | None,
    ) -> None:
        self.tokens, self.deadline, self.passwords = tokens, deadline, passwords
        self.timeout, self.poll_interval, self.resolver = timeout, poll_interval, resolver
        self.started = time.monotonic()
        self.context = ssl.create_default_context(cafile=ca_file)  # the CA file alone when given
        # Seeds reading one mailbox with one token (aliases of one account): a copy counts only
        # for the seed it is addressed to.
        self.mailboxes = Counter((_mailbox(s), tokens[s.address]) for s in seeds)
        self.stop = threading.Event()
        self.results: dict[str, CollectResult] = {}
        self.hosts: OnceCache[str, list[str] | str] = OnceCache()
        self.loop = asyncio.get_running_loop()
        self.pool = ThreadPoolExecutor(
            max_workers=max(1, min(len(seeds), MAX_THREADS)), thread_name_prefix="seed-imap"
        )

    def lookup(self, host: str) -> Awaitable[list[str] | str]:
        """Each IMAP host resolved once for all the seeds that read it."""

        def start() -> Awaitable[list[str] | str]:
            if self.resolver is None and not is_ip_literal(host):
                self.resolver = build_resolver(timeout=self.timeout)
            return _addresses(self.resolver, host, self.deadline, self.poll_interval)

        return self.hosts.get(host, start)

    async def one(self, seed: Seed, on_found: OnFound | None) -> None:
        password = self.passwords.get(seed.address)
        token = self.tokens[seed.address]
        result: CollectResult
        if seed.receive is not None:
            result = await _from_inbox(seed, token, self.deadline, self.poll_interval, self.started)
        elif not password:
            result = CollectError(
                seed.address, f"no IMAP password ({seed.password_env} is not set)"
            )
        else:
            result = await self._over_imap(seed, password, token)
        self.results[seed.address] = result
        if on_found is not None and isinstance(result, CollectedCopy):
            outcome = on_found(seed.address, result)
            if inspect.isawaitable(outcome):
                await outcome

    async def _over_imap(self, seed: Seed, password: str, token: str) -> CollectResult:
        addresses = await self.lookup(seed.imap_host)
        if isinstance(addresses, str):
            return CollectError(seed.address, addresses)
        poller = _Poller(
            seed,
            password,
            token,
            addresses=addresses,
            context=self.context,
            timeout=self.timeout,
            shared=self.mailboxes[(_mailbox(seed), token)] > 1,
            started=self.started,
        )
        try:
            return await self.loop.run_in_executor(
                self.pool, poller.run, self.deadline, self.poll_interval, self.stop
            )
        except Exception as exc:  # noqa: BLE001 - one seed's bug is not all seeds'
            return CollectError(
                seed.address,
                scrub(f"collecting failed: {type(exc).__name__}: {error_text(exc)}", password),
            )

    def close(self) -> None:
        self.stop.set()  # a cancelled collect() must not leave threads polling
        self.hosts.cancel()
        # Not waiting: a thread inside an IMAP command ends within `timeout` on its own.
        self.pool.shutdown(wait=False, cancel_futures=True)


async def _from_inbox(
    seed: Seed, token: str, deadline: float, poll_interval: float, started: float
) -> CollectResult:
    """A `receive` seed: the copy from the local `audit receive` inbox (no IMAP)."""
    from audit.receive.seed import SEED_FOLDER, poll_inbox

    try:
        found = await poll_inbox(
            Path(seed.receive or ""), seed.address, TOKEN_HEADER, token, deadline, poll_interval
        )
    except Exception as exc:  # noqa: BLE001 - an unusable inbox is this seed's error
        return CollectError(seed.address, f"the receive inbox cannot be read: {error_text(exc)}")
    if found is None:
        return None
    raw, arrived = found
    return CollectedCopy(
        seed=seed.address,
        folder=SEED_FOLDER,
        placement="inbox",
        raw=raw,
        found_at=dt.datetime.now(dt.UTC),
        found_monotonic=time.monotonic(),
        received_at=arrived,
        elapsed_s=time.monotonic() - started,
        notes=("read from the local audit receive inbox: the true envelope, no IMAP",),
    )


def _mailbox(seed: Seed) -> tuple[str, int, str]:
    return (seed.imap_host.lower(), seed.imap_port, seed.username.lower())


async def _addresses(
    resolver: Resolver | None, host: str, deadline: float, poll_interval: float
) -> list[str] | str:
    """The IMAP host's addresses through our Resolver (IPv4 first), or why there are none.
    A temporary DNS failure is retried until the deadline."""
    if is_ip_literal(host) or resolver is None:
        return [host]
    while True:
        found = await resolver.host_addresses(host)
        if found.addresses:
            return found.addresses
        failed = found.temperror
        if failed is None:
            return f"IMAP host {found.absence}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return f"cannot look up IMAP host {host}: {failed.status.value}"
        await asyncio.sleep(min(poll_interval, remaining))


# --- the blocking side (one thread per seed) ------------------------------------------------


def _connect(addresses: Sequence[str], port: int, timeout: float | None) -> socket.socket:
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            last = exc
    raise last or OSError("no address to connect to")


class _IMAP4(imaplib.IMAP4):
    """imaplib connecting to addresses we resolved; `host` stays the name, so STARTTLS (which
    imaplib wraps with server_hostname=self.host) checks the certificate against it."""

    def __init__(self, host: str, port: int, addresses: Sequence[str], timeout: float | None):
        self._addresses, self._connect_timeout = list(addresses), timeout
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return _connect(self._addresses, self.port, self._connect_timeout)


class _IMAP4TLS(_IMAP4):
    """Implicit TLS (imaps): the same, wrapped before the greeting."""

    def __init__(self, host, port, addresses, timeout, context: ssl.SSLContext):
        self._context = context
        super().__init__(host, port, addresses, timeout)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = super()._create_socket(timeout)
        return self._context.wrap_socket(sock, server_hostname=self.host)


class _Client(IMAPClient):
    """IMAPClient over our connection (overrides imapclient's `_create_IMAP4` hook)."""

    def __init__(self, host, port, *, addresses, implicit_tls, context, timeout):
        self._addresses = addresses
        super().__init__(host, port, ssl=implicit_tls, ssl_context=context, timeout=timeout)

    def _create_IMAP4(self) -> imaplib.IMAP4:
        connect_timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _IMAP4TLS(
                self.host, self.port, self._addresses, connect_timeout, self.ssl_context
            )
        return _IMAP4(self.host, self.port, self._addresses, connect_timeout)


@dataclass
class _Poller:
    """Polls one seed mailbox until its copy shows up or the deadline passes."""

    seed: Seed
    password: str
    token: str
    addresses: Sequence[str]
    context: ssl.SSLContext
    timeout: float
    shared: bool  # another seed reads the same mailbox: only a copy addressed To us counts
    started: float
    notes: dict[str, None] = field(default_factory=dict)  # ordered set

    def run(self, deadline: float, poll_interval: float, stop: threading.Event) -> CollectResult:
        client: _Client | None = None
        last_error: str | None = None
        complete = swept = False
        polls = 0
        try:
            while not stop.is_set():
                try:
                    if client is None:
                        client = self._login()
                    # Listed on every poll: a server may create the spam folder on first use.
                    primary, fallback = self._plan(client)
                    late = deadline - time.monotonic() <= poll_interval
                    sweep = late or polls % FALLBACK_EVERY == 0
                    found = self._search(client, primary)
                    if found is None and sweep:
                        found = self._search(client, fallback)
                        if found is not None:  # unless it is (by now) in the inbox or spam
                            found = self._search(client, primary) or found
                    polls += 1
                    last_error, complete, swept = None, True, sweep
                    if found is not None:
                        return found
                except _Fatal as exc:
                    return self._error(str(exc))
                except (OSError, imaplib.IMAP4.error) as exc:  # retried until the deadline
                    last_error = self._describe(exc)
                    _close(client)
                    client = None
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if swept or last_error is not None:
                        break
                    continue  # "missing" only after a search of every folder: one more
                stop.wait(min(poll_interval, remaining))
        finally:
            _logout(client)
        if last_error is not None or not complete:
            return self._error(
                f"could not search the mailbox before the deadline: {last_error or 'stopped'}"
            )
        return None

    def _error(self, message: str) -> CollectError:
        return CollectError(self.seed.address, message, tuple(self.notes))

    def _note(self, text: str) -> None:
        self.notes[text] = None

    def _describe(self, exc: BaseException) -> str:
        """A one-line, secret-free description."""
        where = f"{self.seed.imap_host}:{self.seed.imap_port}"
        if isinstance(exc, ssl.SSLCertVerificationError):
            text = f"TLS certificate of {where} not trusted: {exc.verify_message or exc.reason}"
        elif isinstance(exc, TimeoutError | socket.timeout):
            text = f"{where}: timed out"
        elif isinstance(exc, ConnectionRefusedError):
            text = f"{where}: connection refused"
        elif isinstance(exc, ssl.SSLError):
            text = f"TLS error with {where}: {exc.reason or type(exc).__name__}"
        elif isinstance(exc, OSError):
            text = f"{where}: {exc.strerror or type(exc).__name__}"
        else:
            text = f"{where}: {error_text(exc)}"
        return scrub(text, self.password)

    def _login(self) -> _Client:
        seed = self.seed
        try:
            client = _Client(
                seed.imap_host,
                seed.imap_port,
                addresses=self.addresses,
                implicit_tls=seed.imap_tls == "implicit",
                context=self.context,
                timeout=self.timeout,
            )
        except ssl.SSLCertVerificationError as exc:
            raise _Fatal(self._describe(exc)) from None
        try:
            if seed.starttls == "never" and seed.imap_tls == "starttls":
                self._note("starttls = never: logged in without TLS")
            elif seed.imap_tls == "starttls":
                if client.has_capability("STARTTLS"):
                    client.starttls(self.context)
                elif seed.starttls == "required":
                    raise _Fatal(
                        f"{seed.imap_host}:{seed.imap_port} does not offer STARTTLS "
                        "(starttls = required)"
                    )
                else:
                    self._note("the server offered no STARTTLS: logged in without TLS")
            client.normalise_times = False  # INTERNALDATE with its zone
            try:
                client.login(seed.username, self.password)
            except LoginError as exc:
                raise _Fatal(
                    scrub(
                        f"IMAP login as {seed.username} refused: {error_text(exc)}", self.password
                    )
                ) from None
        except ssl.SSLCertVerificationError as exc:
            _close(client)
            raise _Fatal(self._describe(exc)) from None
        except BaseException:
            _close(client)
            raise
        return client

    def _plan(self, client: _Client) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(primary, fallback) lists of (folder, placement) to search.

        Primary: the configured ones that exist, plus any folder the server flags \\Junk
        (RFC 6154), so localised spam folder names are found too. Fallback ("other"): every
        other selectable folder but \\Drafts and \\Sent, plain ones first, \\All last."""
        listing = client.list_folders()
        names = {name for _, _, name in listing}
        upper = {n.upper(): n for n in names}
        uses = {name: {_flag(f) for f in flags} for flags, _, name in listing}
        junk = [name for flags, _, name in listing if "\\junk" in uses[name]]

        def exists(folder: str) -> str | None:
            if folder.upper() == "INBOX":
                return upper.get("INBOX", "INBOX")  # INBOX is case-insensitive and always there
            return folder if folder in names else None

        plan: list[tuple[str, str]] = []
        missing_spam: list[str] = []
        for folder, placement in self.seed.folders():
            real = exists(folder)
            if real is None:
                if placement == "spam":
                    missing_spam.append(folder)
                else:
                    self._note(f"folder {folder!r} does not exist: not searched")
            elif all(real != f for f, _ in plan):
                plan.append((real, placement))
        for folder in junk:
            if all(folder != f for f, _ in plan):
                plan.insert(_after_last(plan, ("inbox", "spam")), (folder, "spam"))
        if not any(p == "spam" for _, p in plan):
            self._note(
                f"no spam folder found (looked for {', '.join(missing_spam) or 'none'} and a "
                "\\Junk folder): a copy filed as spam would not be seen"
            )
        planned = {f for f, _ in plan}
        rest = [n for _, _, n in listing if n not in planned and not uses[n] & SKIPPED_USES]
        plain = [n for n in rest if not uses[n] & set(FALLBACK_ORDER)]
        if len(plain) > MAX_FALLBACK_FOLDERS:
            self._note(
                f"{len(plain) - MAX_FALLBACK_FOLDERS} of {len(plain)} other folders not "
                "searched (too many)"
            )
            plain = plain[:MAX_FALLBACK_FOLDERS]
        special = sorted(
            (n for n in rest if uses[n] & set(FALLBACK_ORDER)),
            key=lambda n: max(FALLBACK_ORDER.index(u) for u in uses[n] & set(FALLBACK_ORDER)),
        )
        return plan, [(n, "other") for n in plain + special]

    def _search(self, client: _Client, plan: list[tuple[str, str]]) -> CollectedCopy | None:
        for folder, placement in plan:
            try:
                client.select_folder(folder, readonly=True)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                self._note(f"folder {folder!r} could not be opened: {error_text(exc)}")
                continue
            uids = client.search(["HEADER", TOKEN_HEADER, self.token])
            uid = self._ours(client, sorted(uids))
            if uid is None:
                continue
            data = client.fetch([uid], ["BODY.PEEK[]", "INTERNALDATE"]).get(uid, {})
            raw = data.get(b"BODY[]")
            if raw is None:
                continue  # expunged between SEARCH and FETCH: look again next poll
            received = data.get(b"INTERNALDATE")
            if not isinstance(received, dt.datetime):
                received = None
            elif received.tzinfo is None:  # imapclient gives naive local time when normalising
                received = received.astimezone()
            return CollectedCopy(
                seed=self.seed.address,
                folder=folder,
                placement=placement,
                raw=bytes(raw),
                found_at=dt.datetime.now(dt.UTC),
                found_monotonic=time.monotonic(),
                received_at=received.astimezone(dt.UTC) if received else None,
                elapsed_s=time.monotonic() - self.started,
                notes=tuple(self.notes),
            )
        return None

    def _ours(self, client: _Client, uids: list[int]) -> int | None:
        """The first match addressed to this seed. In a mailbox of its own any token match is
        ours; one shared with other seeds (aliases delivering into one account) needs To/Cc."""
        if not uids:
            return None
        headers = client.fetch(uids, ["BODY.PEEK[HEADER]"])
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        me = self.seed.address.lower()
        for uid in uids:
            header = headers.get(uid, {}).get(b"BODY[HEADER]")
            if header is None:
                continue
            msg = parser.parsebytes(bytes(header))
            rcpts = getaddresses([str(v) for k in ("To", "Cc") for v in msg.get_all(k, [])])
            if any(addr.lower() == me for _, addr in rcpts):
                return uid
        if self.shared:
            return None
        return next((u for u in uids if u in headers), None)


def _flag(flag: bytes | str) -> str:
    """A LIST attribute, lower-cased (IMAP attributes are case-insensitive)."""
    text = flag.decode("ascii", "replace") if isinstance(flag, bytes) else str(flag)
    return text.lower()


def _after_last(plan: list[tuple[str, str]], placements: tuple[str, ...]) -> int:
    index = 0
    for i, (_, placement) in enumerate(plan):
        if placement in placements:
            index = i + 1
    return index


def _close(client: _Client | None) -> None:
    if client is None:
        return
    with contextlib.suppress(Exception):  # already broken; nothing more to do
        client.shutdown()


def _logout(client: _Client | None) -> None:
    if client is None:
        return
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - a failed goodbye changes no result
        _close(client)
