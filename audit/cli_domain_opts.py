"""`audit domain`'s input checks and its batch hand-over, kept out of cli.py so the command
reads as: check the inputs, build the options, audit, render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audit.facts.paths import SendingPath


def domain_inputs(
    domains: tuple[str, ...],
    from_file: str | None,
    dkim_selectors: tuple[str, ...],
    path_flags: dict[str, Any],
    esp_profiles_dir: Path | None,
    ca_file: str | None,
    trust_anchor_file: str | None,
) -> tuple[list[str], list[str], list[SendingPath]]:
    """The domain names, DKIM selectors and sending paths; bad input exits 2 before any
    lookup (a bad ESP profile or trust anchor file is bad input, not a failed check)."""
    from audit.cli_common import BadInput, check_ca_file
    from audit.cli_esp import load_or_fail
    from audit.cli_paths import build_paths
    from audit.domains import normalize_domain, normalize_selector

    if not domains and from_file is None:
        raise BadInput("Missing argument 'DOMAINS...' (or give --from-file FILE)")
    profiles = load_or_fail(esp_profiles_dir)
    try:
        names = list(dict.fromkeys(normalize_domain(d) for d in domains))
        selectors = [normalize_selector(s) for s in dkim_selectors]
        paths = build_paths(**path_flags, dkim_selectors=selectors, known_esps=list(profiles))
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    check_ca_file(ca_file)
    if trust_anchor_file:
        from audit.net.dnssec import TrustAnchorError, load_trust_anchors

        try:
            load_trust_anchors(trust_anchor_file)
        except TrustAnchorError as exc:
            raise BadInput(str(exc)) from None
    return names, selectors, paths


def run_batch(
    names: list[str],
    from_file: str | None,
    resume: Path | None,
    backend: Any,
    options: dict[str, Any],
    *,
    concurrency: int,
    fmt: str,
    output: Path | None,
    fail_on: str,
    scheduler: str | None,
    dns: tuple[tuple[str, ...], Path | None, float],
) -> None:
    """The batch mode (--from-file, --resume, --scheduler or JSONL): streams and exits."""
    from audit import cli_batch
    from audit.cli_common import BadInput

    listed = cli_batch.read_domain_list(from_file, tuple(names)) if from_file else None
    if resume is not None:
        output, fmt = output or resume, "jsonl" if fmt == "terminal" else fmt
        if fmt != "jsonl":
            raise BadInput("--resume reads and extends a JSONL output: use --format jsonl")
    cli_batch.run_domain_batch(
        names + (listed.names if listed else []), listed.bad if listed else [],
        from_file or "", backend, options, concurrency=concurrency, fmt=fmt,
        output=output, resume=resume, fail_on=fail_on,
        runner=cli_batch.dask_runner(scheduler, dns),
    )  # fmt: skip
