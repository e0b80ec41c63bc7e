"""`audit seed run`: send, collect, audit the copies, confirm; every step recorded.

The order matters for safety: a send is recorded as intended before it is attempted and as
sent after, so `--resume ID` never sends a seed a second copy (an attempt cut off halfway is
treated as possibly sent). The domain audit of the From domain runs while the messages travel.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from audit import __version__
from audit.domain_audit import audit_domain
from audit.facts.paths import SendingPath
from audit.message.addresses import domain_of
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, audit_message
from audit.model import Report
from audit.net.dns import Backend, Resolver
from audit.seed.config import Seed
from audit.seed.confirm import SeedObservation, confirm

if TYPE_CHECKING:  # the IMAP and sending stacks load when a run needs them
    from audit.seed.collect import CollectResult
    from audit.seed.send import Sender, SendResult
    from audit.seed.state import SendRecord

# Where each provider's receiving hosts live: the envelope reconstruction and the trusted
# Authentication-Results are taken at this boundary (a seed's authserv_id overrides it).
RECEIVER_DOMAINS = {"gmail": "google.com", "outlook": "outlook.com", "yahoo": "yahoo.com"}


class SeedPreflightError(Exception):
    """A seed mailbox cannot be read before anything is sent: the user's setup to fix."""


@dataclass
class SeedRunOptions:
    from_addr: str
    via: str
    rate: float = 1.0  # messages per second
    wait: float = 300.0  # seconds to wait for the copies after the last send
    template: bytes | None = None
    ca_file: str | None = None
    timeout: float = 10.0
    max_attempts: int = 4
    poll_interval: float = 2.0
    dkim_selectors: Sequence[str] = ()
    preflight: bool = True  # log in to every seed mailbox before sending
    path: SendingPath | None = None  # --path / --esp: the declared path whose prediction to check


@dataclass
class SeedRunResult:
    run_id: str
    report: Report
    sent_now: list[str] = field(default_factory=list)  # seeds this invocation sent to


def seed_token(run_token: str, address: str) -> str:
    """One token per run and seed: the copy in a mailbox names its seed and run."""
    digest = hashlib.sha256(address.lower().encode()).hexdigest()[:8]
    return f"{run_token}-{digest}"


def receiver_boundary(seed: Seed, copy: bytes | None = None) -> str | None:
    """The domain (or authserv-id) whose Authentication-Results and Received hop count."""
    if getattr(seed, "authserv_id", None):
        return seed.authserv_id
    preset = RECEIVER_DOMAINS.get(seed.provider)
    if preset:
        return preset
    if copy is not None:
        return _topmost_authserv_id(copy)
    return None


def _topmost_authserv_id(raw: bytes) -> str | None:
    """The authserv-id of the topmost Authentication-Results: the seed's receiver wrote it."""
    from audit.message.authres import parse_authentication_results
    from audit.message.mime import parse_message

    message, _depth = parse_message(raw)  # a copy nested 2,000 deep must not crash the run
    for value in message.get_all("Authentication-Results") or []:
        parsed = parse_authentication_results(str(value))
        if parsed.authserv_id:
            return parsed.authserv_id.lower()
    return None


async def audit_copy(seed: Seed, raw: bytes, backend: Backend, timeout: float) -> Report:
    """The message audit of the copy as received, bounded at the seed's receiver."""
    boundary = receiver_boundary(seed, raw)
    return await audit_message(
        RawMessage(name=f"copy at {seed.address}", raw=raw),
        backend,
        envelope=EnvelopeOptions(receiver_domain=boundary),
        check_timeout=max(timeout * 6, 30.0),
    )


class SeedRunStore(Protocol):
    """The state a seed run writes as it goes (audit.seed.state.RunStore)."""

    def create_run(self, params: Mapping[str, Any]) -> str: ...
    def resume_run(self, run_id: str) -> set[str]: ...
    def send_states(self, run_id: str) -> dict[str, str]: ...
    def sent_seeds(self, run_id: str) -> set[str]: ...
    def sends(self, run_id: str) -> Mapping[str, SendRecord]: ...
    def record_send(
        self,
        run_id: str,
        seed_address: str,
        *,
        token: str,
        status: str,
        error: str | None = None,
        provider_id: str | None = None,
    ) -> None: ...
    def record_copy(
        self,
        run_id: str,
        seed_address: str,
        *,
        folder: str,
        placement: str,
        raw: bytes,
        delay_s: float | None = None,
    ) -> None: ...
    def finish_run(self, run_id: str, report_json: str) -> None: ...


Say = Callable[[str], None]


@dataclass
class _Run:
    """One run's identity and what an earlier invocation of it already sent."""

    id: str
    store: SeedRunStore
    previously: dict[str, str]  # seed address -> send state before this invocation
    no_resend: set[str]  # sent or possibly sent before: never sent again
    sent_at: dict[str, float] = field(default_factory=dict)  # epoch the relay accepted each
    send_status: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def token(self, address: str) -> str:
        return seed_token(self.id.replace("-", ""), address)


async def run_seed(
    seeds: Sequence[Seed],
    options: SeedRunOptions,
    *,
    store: SeedRunStore,
    backend: Backend,
    sender: Sender,
    passwords: Mapping[str, str],
    resume: str | None = None,
    progress: Say | None = None,
    transport_backend: Backend | None = None,
) -> SeedRunResult:
    """`backend` answers the audits' DNS (predictions, the copies' replay: --zone-dir works);
    `transport_backend` finds the IMAP servers (default: `backend`), which must be real."""
    from audit.seed.send import redact_via

    say = progress or (lambda _text: None)
    mailboxes = _Mailboxes(seeds, options, passwords, Resolver(transport_backend or backend))
    from_domain = domain_of(options.from_addr) or options.from_addr
    if options.preflight:
        say(f"checking the {len(seeds)} seed mailboxes before sending anything")
        await mailboxes.preflight()
    run = _open_run(store, seeds, options, resume)
    start = time.monotonic()
    domain_task = asyncio.create_task(
        audit_domain(
            from_domain,
            backend,
            dkim_selectors=list(options.dkim_selectors),
            timeout=min(options.timeout, 5.0),
            sending_paths=[options.path] if options.path else (),
        )
    )
    await _send(run, seeds, options, from_domain, sender, say)
    _count_earlier_sends(run)
    if any(state in ("sent", "interrupted") for state, _ in run.send_status.values()):
        sent = sum(1 for state, _ in run.send_status.values() if state == "sent")
        say(f"run {run.id}: sent {sent}, waiting up to {options.wait:g}s for the copies")
    else:
        say(f"run {run.id}: nothing was sent, so there is nothing to wait for")
    copies = await mailboxes.collect_copies(run, say)
    try:
        domain_report: Report | None = await domain_task
    except Exception:  # noqa: BLE001 - the predictions section says it is missing
        domain_report = None
    observations = [
        await _observe(run, seed, copies.get(seed.address), backend, options.timeout)
        for seed in seeds
    ]
    report = Report(
        kind="seed",
        target=f"{options.from_addr} (run {run.id})",
        outcomes=confirm(
            observations, domain_report, from_domain, options.path.name if options.path else None
        ),
        queries=list(domain_report.queries) if domain_report else [],
        tool_version=__version__,
        duration_ms=(time.monotonic() - start) * 1000,
    )
    report.outcomes[0].facts["run"] = {
        "id": run.id,
        "from": options.from_addr,
        "via": redact_via(options.via),
    }
    store.finish_run(run.id, json.dumps(report.to_dict()))
    return SeedRunResult(run.id, report, sorted(run.sent_at.keys() - run.no_resend))


def _open_run(
    store: SeedRunStore, seeds: Sequence[Seed], options: SeedRunOptions, resume: str | None
) -> _Run:
    """A new run in the state, or the one `resume` names with what it already sent."""
    from audit.seed.send import redact_via

    if resume:
        store.resume_run(resume)
        return _Run(resume, store, store.send_states(resume), store.sent_seeds(resume))
    run_id = store.create_run(
        {
            "from": options.from_addr,
            "via": redact_via(options.via),
            "seeds": [s.address for s in seeds],
            "rate": options.rate,
            "wait": options.wait,
        }
    )
    return _Run(run_id, store, {}, set())


@dataclass
class _Mailboxes:
    """The seed mailboxes over IMAP: read before sending (preflight), then polled for copies."""

    seeds: Sequence[Seed]
    options: SeedRunOptions
    passwords: Mapping[str, str]
    resolver: Resolver

    async def preflight(self) -> None:
        """One pass (log in, list, search) over every mailbox; raises SeedPreflightError."""
        from audit.seed.collect import CollectError, collect

        probe_tokens = {s.address: f"preflight-{secrets.token_hex(6)}" for s in self.seeds}
        checked = await collect(
            self.seeds,
            probe_tokens,
            deadline=time.monotonic(),
            passwords=self.passwords,
            ca_file=self.options.ca_file,
            timeout=self.options.timeout,
            resolver=self.resolver,
        )
        unreadable = [f"{a}: {r}" for a, r in checked.items() if isinstance(r, CollectError)]
        if unreadable:
            raise SeedPreflightError(
                "a seed mailbox cannot be read, nothing was sent: " + "; ".join(unreadable)
            )

    async def collect_copies(self, run: _Run, say: Say) -> dict[str, CollectResult]:
        """Every seed that has (or may have) a copy on its way, until found or --wait ends."""
        from audit.seed.collect import collect

        collectable = ("sent", "interrupted")
        wanted = [
            s for s in self.seeds if run.send_status.get(s.address, ("", None))[0] in collectable
        ]
        if not wanted:
            return {}
        return await collect(
            wanted,
            {s.address: run.token(s.address) for s in wanted},
            deadline=time.monotonic() + self.options.wait,
            passwords=self.passwords,
            ca_file=self.options.ca_file,
            timeout=self.options.timeout,
            poll_interval=self.options.poll_interval,
            resolver=self.resolver,
            on_found=lambda address, copy: say(f"found the copy for {address} in {copy.folder}"),
        )


async def _send(
    run: _Run,
    seeds: Sequence[Seed],
    options: SeedRunOptions,
    from_domain: str,
    sender: Sender,
    say: Say,
) -> None:
    """Send to every seed not sent to before (never twice: sent or possibly-sent seeds are
    skipped on resume); each outcome goes to the state as it finishes."""
    from audit.seed.message import build_test_message
    from audit.seed.send.batch import send_all

    jobs = []
    for seed in seeds:
        if seed.address in run.no_resend:
            continue
        message = build_test_message(
            options.from_addr,
            seed.address,
            run.token(seed.address),
            template=options.template,
            now=datetime.now(UTC),
            message_id_domain=from_domain,
        )
        jobs.append((options.from_addr, seed.address, message))
    say(f"run {run.id}: sending to {len(jobs)} of {len(seeds)} seeds")
    await send_all(
        sender,
        jobs,
        rate=options.rate,
        max_attempts=options.max_attempts,
        before_send=lambda rcpt: run.store.record_send(
            run.id, rcpt, token=run.token(rcpt), status="sending"
        ),
        on_result=lambda result: _record_send(run, result, say),
    )


def _record_send(run: _Run, result: SendResult, say: Say) -> None:
    """Recorded as it finishes: a run killed later still knows what went out (and never sends
    it again)."""
    if result.ok:
        status = "sent"
    elif getattr(result, "maybe_sent", False):
        status = "interrupted"  # handed over, no reply: possibly delivered, never re-sent
    elif result.attempts == 0:
        status = "skipped"
    else:
        status = "failed"
    run.store.record_send(
        run.id,
        result.address,
        token=run.token(result.address),
        status=status,
        error=result.error,
        provider_id=result.provider_id,
    )
    run.send_status[result.address] = (status, result.error)
    if result.ok:
        run.sent_at[result.address] = result.sent_at or time.time()
        say(f"sent to {result.address}")
    else:
        say(f"not sent to {result.address}: {result.error or result.status}")


def _count_earlier_sends(run: _Run) -> None:
    """Seeds an earlier invocation sent to (or may have): their copies are awaited too, the
    delay measured from when the relay accepted them."""
    earlier = run.store.sends(run.id) if run.no_resend else {}
    for address in run.no_resend:
        if run.previously.get(address) == "sent" and address in earlier:
            with contextlib.suppress(ValueError):
                updated = datetime.fromisoformat(earlier[address].updated)
                run.sent_at[address] = updated.timestamp()
    for address in run.no_resend:
        state = "sent" if run.previously.get(address) == "sent" else "interrupted"
        run.send_status.setdefault(address, (state, None))


async def _observe(
    run: _Run, seed: Seed, found: CollectResult, backend: Backend, timeout: float
) -> SeedObservation:
    """What happened at one seed: the send, the copy (recorded, then audited) or why none."""
    from audit.seed.collect import CollectError

    status, error = run.send_status.get(seed.address, ("skipped", "not attempted"))
    obs = SeedObservation(seed.address, provider=seed.provider, send_status=status)
    obs.send_error = error
    if isinstance(found, CollectError):
        obs.collect_error = str(found)
    elif found is not None:
        obs.folder, obs.placement = found.folder, found.placement
        if status == "interrupted":
            obs.send_status = "sent"
        if seed.address in run.sent_at:
            arrived = found.received_at or found.found_at  # the server's INTERNALDATE
            obs.delay_s = max(0.0, arrived.timestamp() - run.sent_at[seed.address])
        run.store.record_copy(
            run.id,
            seed.address,
            folder=found.folder,
            placement=found.placement,
            raw=found.raw,
            delay_s=obs.delay_s,
        )
        obs.message_report = await audit_copy(seed, found.raw, backend, timeout)
    elif status == "interrupted":
        obs.notes.append("an earlier run was cut off while sending: the copy may not exist")
    return obs
