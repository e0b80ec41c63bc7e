"""NET301: a host named by DNS data resolved to a non-public address, which was not contacted.

Shared by the checks that connect to hosts DNS names (STARTTLS on MX hosts, the MTA-STS policy
fetch, the BIMI logo and VMC fetches); the refusal itself happens in audit/net/address_guard.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from audit.model import Finding
from audit.rules.net import NET_ADDRESS_NOT_PUBLIC

MAX_LISTED = 10  # addresses named in one finding; DNS can list hundreds


def not_public_finding(
    host: str, refused: Sequence[tuple[str, str]], what: str, tested_elsewhere: bool = False
) -> Finding:
    """One NET301 for `host` and the (address, reason) pairs the guard refused; `what` says what
    was not done ("the STARTTLS probe"), `tested_elsewhere` that another address of the host
    was reached, so the verdict rests on that one."""
    shown = [f"{address}: {reason}" for address, reason in refused[:MAX_LISTED]]
    if len(refused) > MAX_LISTED:
        shown.append(f"... and {len(refused) - MAX_LISTED} more non-public addresses")
    first = refused[0][0] if refused else "?"
    others = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
    outcome = "judged on its other addresses" if tested_elsewhere else "so it was not tested"
    return Finding(
        NET_ADDRESS_NOT_PUBLIC,
        host,
        message=f"refused to connect to {first}{others}: not a public address; {host} resolves "
        f"to it, {what} did not connect there, {outcome}. Senders on the Internet cannot reach "
        "it either",
        evidence=[f"{host} -> {line}" for line in shown],
        fix=f"Publish only public addresses for {host} (A/AAAA records). If the audit runs "
        "inside a private network on purpose (split-horizon DNS, a lab), run it again with "
        "--allow-private-addresses.",
    )
