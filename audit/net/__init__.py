"""The one road to the network (DNS, SMTP, HTTPS).

dnspython imports httpx, httpcore and trio at start-up whenever they are installed, for
DNS-over-HTTPS, DNS-over-QUIC and its trio backend (dns.query, dns.asyncbackend). audit asks
over UDP and TCP only, on asyncio: those features are switched off before dnspython is first
imported (here, one floor below every user of it), which takes ~0.15 s of CPU off every start
of the command (serial work before `--jobs` workers fork). httpx itself is still imported
where audit fetches over HTTPS.
"""

from __future__ import annotations

try:
    import dns._features as _dns_features

    for _feature in ("doh", "doq", "trio"):
        _dns_features.force(_feature, False)
except (ImportError, AttributeError):  # another dnspython: it keeps its own defaults
    pass
