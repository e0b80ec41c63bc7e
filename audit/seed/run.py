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
from typing import Any

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


async def run_seed(
    seeds: Sequence[Seed],
    options: SeedRunOptions,
    *,
    store: Any,  # audit.seed.state.RunStore
    backend: Backend,
    sender: Any,  # audit.seed.send Sender
    passwords: Mapping[str, str],
    resume: str | None = None,
    progress: Callable[[str], None] | None = None,
    transport_backend: Backend | None = None,
) -> SeedRunResult:
    """`backend` answers the audits' DNS (predictions, the copies' replay: --zone-dir works);
    `transport_backend` finds the IMAP servers (default: `backend`), which must be real."""
    from audit.seed.collect import CollectError, collect
    from audit.seed.message import build_test_message
    from audit.seed.send import redact_via
    from audit.seed.send.batch import send_all

    say = progress or (lambda _text: None)
    resolver = Resolver(transport_backend or backend)
    from_domain = domain_of(options.from_addr) or options.from_addr
    if options.preflight:
        say(f"checking the {len(seeds)} seed mailboxes before sending anything")
        probe_tokens = {s.address: f"preflight-{secrets.token_hex(6)}" for s in seeds}
        checked = await collect(
            seeds,
            probe_tokens,
            deadline=time.monotonic(),  # one pass: log in, list, search
            passwords=passwords,
            ca_file=options.ca_file,
            timeout=options.timeout,
            resolver=resolver,
        )
        unreadable = [f"{a}: {r}" for a, r in checked.items() if isinstance(r, CollectError)]
        if unreadable:
            raise SeedPreflightError(
                "a seed mailbox cannot be read, nothing was sent: " + "; ".join(unreadable)
            )
    if resume:
        run_id = resume
        store.resume_run(run_id)
        previously = store.send_states(run_id)
        no_resend = store.sent_seeds(run_id)
    else:
        run_id = store.create_run(
            {
                "from": options.from_addr,
                "via": redact_via(options.via),
                "seeds": [s.address for s in seeds],
                "rate": options.rate,
                "wait": options.wait,
            }
        )
        previously, no_resend = {}, set()
    run_token = run_id.replace("-", "")
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

    # ---- send (never twice: sent or possibly-sent seeds are skipped on resume)
    todo = [s for s in seeds if s.address not in no_resend]
    jobs = []
    for seed in todo:
        token = seed_token(run_token, seed.address)
        message = build_test_message(
            options.from_addr,
            seed.address,
            token,
            template=options.template,
            now=datetime.now(UTC),
            message_id_domain=from_domain,
        )
        jobs.append((seed, token, message))
    say(f"run {run_id}: sending to {len(jobs)} of {len(seeds)} seeds")
    sent_at: dict[str, float] = {}  # wall-clock epoch when the relay accepted each message
    send_status: dict[str, tuple[str, str | None]] = {}

    def record(result: Any) -> None:
        """Each job's outcome goes to the state as it finishes: a run killed later still
        knows what went out (and never sends it again)."""
        if result.ok:
            status = "sent"
        elif getattr(result, "maybe_sent", False):
            status = "interrupted"  # handed over, no reply: possibly delivered, never re-sent
        elif result.attempts == 0:
            status = "skipped"
        else:
            status = "failed"
        store.record_send(
            run_id,
            result.address,
            token=seed_token(run_token, result.address),
            status=status,
            error=result.error,
            provider_id=result.provider_id,
        )
        send_status[result.address] = (status, result.error)
        if result.ok:
            sent_at[result.address] = result.sent_at or time.time()
            say(f"sent to {result.address}")
        else:
            say(f"not sent to {result.address}: {result.error or result.status}")

    await send_all(
        sender,
        [(options.from_addr, seed.address, message) for seed, _t, message in jobs],
        rate=options.rate,
        max_attempts=options.max_attempts,
        before_send=lambda rcpt: store.record_send(
            run_id, rcpt, token=seed_token(run_token, rcpt), status="sending"
        ),
        on_result=record,
    )
    earlier = store.sends(run_id) if no_resend else {}
    for address in no_resend:
        if previously.get(address) == "sent" and address in earlier:
            with contextlib.suppress(ValueError):
                sent_at[address] = datetime.fromisoformat(earlier[address].updated).timestamp()
    for address in no_resend:
        state = "sent" if previously.get(address) == "sent" else "interrupted"
        send_status.setdefault(address, (state, None))
    on_the_way = sum(1 for s, _ in send_status.values() if s in ("sent", "interrupted"))
    if on_the_way:
        say(
            f"run {run_id}: sent {sum(1 for s, _ in send_status.values() if s == 'sent')}, "
            f"waiting up to {options.wait:g}s for the copies"
        )
    else:
        say(f"run {run_id}: nothing was sent, so there is nothing to wait for")

    # ---- collect every seed that has (or may have) a copy on its way
    collectable = ("sent", "interrupted")
    wanted = [s for s in seeds if send_status.get(s.address, ("", None))[0] in collectable]
    copies: dict[str, Any] = {}
    if wanted:
        tokens = {s.address: seed_token(run_token, s.address) for s in wanted}
        copies = await collect(
            wanted,
            tokens,
            deadline=time.monotonic() + options.wait,
            passwords=passwords,
            ca_file=options.ca_file,
            timeout=options.timeout,
            poll_interval=options.poll_interval,
            resolver=resolver,
            on_found=lambda address, copy: say(f"found the copy for {address} in {copy.folder}"),
        )

    # ---- audit the copies and confirm
    try:
        domain_report: Report | None = await domain_task
    except Exception:  # noqa: BLE001 - the predictions section says it is missing
        domain_report = None
    observations = []
    for seed in seeds:
        status, error = send_status.get(seed.address, ("skipped", "not attempted"))
        obs = SeedObservation(seed.address, provider=seed.provider, send_status=status)
        obs.send_error = error
        found = copies.get(seed.address)
        if isinstance(found, CollectError):
            obs.collect_error = str(found)
        elif found is not None:
            obs.folder, obs.placement = found.folder, found.placement
            if status == "interrupted":
                obs.send_status = "sent"
            if seed.address in sent_at:
                arrived = found.received_at or found.found_at  # the server's INTERNALDATE
                obs.delay_s = max(0.0, arrived.timestamp() - sent_at[seed.address])
            store.record_copy(
                run_id,
                seed.address,
                folder=found.folder,
                placement=found.placement,
                raw=found.raw,
                delay_s=obs.delay_s,
            )
            obs.message_report = await audit_copy(seed, found.raw, backend, options.timeout)
        elif status == "interrupted":
            obs.notes.append("an earlier run was cut off while sending: the copy may not exist")
        observations.append(obs)

    report = Report(
        kind="seed",
        target=f"{options.from_addr} (run {run_id})",
        outcomes=confirm(
            observations, domain_report, from_domain, options.path.name if options.path else None
        ),
        queries=list(domain_report.queries) if domain_report else [],
        tool_version=__version__,
        duration_ms=(time.monotonic() - start) * 1000,
    )
    report.outcomes[0].facts["run"] = {
        "id": run_id,
        "from": options.from_addr,
        "via": redact_via(options.via),
    }
    store.finish_run(run_id, json.dumps(report.to_dict()))
    return SeedRunResult(run_id, report, sorted(sent_at.keys() - no_resend))
