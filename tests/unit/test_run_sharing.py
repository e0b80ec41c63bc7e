"""Work shared across the domains of one run: the DNS cache (TTLs honoured, a provider's
include asked once), the bounds on queries in flight, and MX probes made once per address."""

from __future__ import annotations

import asyncio

from audit.batch import audit_batch
from audit.checks import smtp_tls
from audit.checks.common import DomainContext
from audit.checks.domain import starttls
from audit.net.dns import DnsAnswer, DnsStatus, Resolver, memory_backend
from audit.net.dns_cache import FAILURE_TTL, CachingBackend, SharedCache
from audit.net.dns_limits import LimitedBackend, shared_backend
from audit.net.run_memo import RunMemo
from audit.net.smtp import NO_STARTTLS, SmtpProbe

INCLUDE = "_spf.provider.example"


class Counting:
    """A backend that counts the questions reaching it (what the DNS server would see)."""

    def __init__(self, inner=None, answers=None):
        self.inner, self.answers, self.asked = inner, answers or {}, []

    async def lookup(self, name: str, rdtype: str) -> DnsAnswer:
        self.asked.append((name, rdtype))
        if self.inner is not None:
            return await self.inner.lookup(name, rdtype)
        return self.answers[(name, rdtype)]


def _fifty_customers():
    records = {INCLUDE: [("TXT", '"v=spf1 ip4:192.0.2.0/24 -all"')]}
    for i in range(50):
        records[f"c{i}.example"] = [("TXT", f'"v=spf1 include:{INCLUDE} -all"')]
        records[f"_dmarc.c{i}.example"] = [("TXT", '"v=DMARC1; p=reject"')]
    return records


def test_a_shared_include_is_asked_once_across_fifty_domains():
    counting = Counting(memory_backend(_fifty_customers()))
    reports = []
    names = [f"c{i}.example" for i in range(50)]
    asyncio.run(audit_batch(names, counting, reports.append, concurrency=10))
    assert counting.asked.count((INCLUDE, "TXT")) == 1
    assert counting.asked.count(("c7.example", "TXT")) == 1
    assert sorted(r.target for r in reports) == sorted(names)
    for report in reports:  # each report still shows the include's answer as its evidence
        logged = [q for q in report.queries if q.name == INCLUDE and q.rdtype == "TXT"]
        assert logged and logged[0].answers == ('"v=spf1 ip4:192.0.2.0/24 -all"',)
        spf = next(o for o in report.outcomes if o.check == "spf")
        assert "SPF001" not in {f.rule.id for f in spf.findings}


def _answer(name, status=DnsStatus.NOERROR, ttl=None):
    return DnsAnswer(name, "TXT", status, ttl=ttl)


def test_ttls_are_honoured_and_failures_kept_briefly():
    now = [0.0]
    answers = {
        ("short.example", "TXT"): _answer("short.example", ttl=30),
        ("gone.example", "TXT"): _answer("gone.example", DnsStatus.NXDOMAIN, ttl=300),
        ("zero.example", "TXT"): _answer("zero.example", ttl=0),
        ("slow.example", "TXT"): _answer("slow.example", DnsStatus.TIMEOUT),
    }
    counting = Counting(answers=answers)
    backend = CachingBackend(counting, SharedCache(clock=lambda: now[0]))

    async def ask_all():
        for name in ("short.example", "gone.example", "zero.example", "slow.example"):
            await backend.lookup(name, "TXT")

    async def scenario():
        await ask_all()
        await ask_all()  # t=0: all but the TTL-0 answer come from the cache
        now[0] = FAILURE_TTL + 1
        await ask_all()  # the timeout is asked again; the others still fresh
        now[0] = 31
        await ask_all()  # the 30 s answer and the timeout expired; the NXDOMAIN (300 s) did not

    asyncio.run(scenario())
    count = {name: counting.asked.count((name, "TXT")) for name, _ in answers}
    assert count == {"short.example": 2, "gone.example": 1, "zero.example": 4, "slow.example": 3}


def test_cache_is_bounded_least_recently_used_out():
    cache = SharedCache(max_entries=3)
    counting = Counting(answers={(f"n{i}.example", "TXT"): _answer(f"n{i}.example")
                                 for i in range(5)})  # fmt: skip
    backend = CachingBackend(counting, cache)

    async def scenario():
        for i in range(5):
            await backend.lookup(f"n{i}.example", "TXT")
        await backend.lookup("n4.example", "TXT")  # still there
        await backend.lookup("n0.example", "TXT")  # evicted: asked again

    asyncio.run(scenario())
    assert len(cache) == 3
    assert counting.asked.count(("n4.example", "TXT")) == 1
    assert counting.asked.count(("n0.example", "TXT")) == 2


def test_queries_in_flight_are_bounded():
    class Slow:
        async def lookup(self, name, rdtype):
            await asyncio.sleep(0.002)
            return _answer(name)

    limited = LimitedBackend(Slow(), max_in_flight=5, rate=0)

    async def scenario():
        await asyncio.gather(*(limited.lookup(f"q{i}.example", "TXT") for i in range(60)))

    asyncio.run(scenario())
    assert limited.sent == 60 and limited.peak_in_flight == 5


def test_zone_files_get_the_cache_but_no_rate_limit():
    backend = shared_backend(memory_backend({}))
    assert isinstance(backend, CachingBackend) and not isinstance(backend.inner, LimitedBackend)
    assert backend.lookup_dnssec is not None  # StaticBackend answers DNSSEC questions


def test_an_mx_address_shared_by_two_domains_is_probed_once(monkeypatch):
    calls = []

    async def fake(host, address, port, *, timeout, ca_file, helo="audit.invalid", **_guard):
        calls.append((host, address, port))
        return SmtpProbe(host, address, port, status=NO_STARTTLS, stage="ehlo", reason="no")

    monkeypatch.setattr(smtp_tls, "probe_starttls", fake)
    data = {
        "one.example": [("MX", "10 mx.provider.example.")],
        "two.example": [("MX", "10 mx.provider.example.")],
        "mx.provider.example": [("A", "192.0.2.25")],
    }
    backend = CachingBackend(memory_backend(data))
    run = RunMemo(max_probes=2)

    async def scenario():
        contexts = [
            DomainContext(d, Resolver(backend), probes=True, smtp_port=2525, run=run)
            for d in ("one.example", "two.example")
        ]
        return await asyncio.gather(*(starttls.check(c) for c in contexts))

    results = asyncio.run(scenario())
    assert calls == [("mx.provider.example", "192.0.2.25", 2525)]
    for result in results:  # both domains get the verdict on the shared host
        assert ("TLS301", "mx.provider.example") in {(f.rule.id, f.target) for f in result.findings}


def test_new_domains_wait_while_the_dns_queue_is_full():
    """--concurrency 40 over a DNS road of 4: domains are let in as the queue drains, so no
    domain's questions sit behind forty domains' worth of others."""

    class Slow:
        async def lookup(self, name, rdtype):
            await asyncio.sleep(0.003)
            return _answer(name)

    limited = LimitedBackend(Slow(), max_in_flight=4, rate=0)
    running = peak = 0

    async def domain(i: int) -> None:
        nonlocal running, peak
        await limited.admit()
        running += 1
        peak = max(peak, running)
        await asyncio.gather(*(limited.lookup(f"q{j}.d{i}.example", "TXT") for j in range(10)))
        running -= 1

    async def scenario():
        await asyncio.gather(*(domain(i) for i in range(40)))

    asyncio.run(scenario())
    assert limited.sent == 400
    assert peak <= 2  # the queue (10 questions a domain) is full after one or two domains


def test_slots_hand_a_released_slot_to_the_longest_waiter_and_skip_the_cancelled():
    from audit.net.dns_limits import Slots

    async def scenario():
        slots = Slots(1)
        order: list[str] = []
        await slots.acquire()

        async def wait(name: str) -> None:
            await slots.acquire()
            order.append(name)

        tasks = {n: asyncio.ensure_future(wait(n)) for n in ("a", "b", "c")}
        await asyncio.sleep(0)
        tasks["a"].cancel()  # gives up before its turn: its turn goes to b
        await asyncio.sleep(0)
        slots.release()
        await asyncio.sleep(0)
        slots.release()  # b is done with it: c
        await asyncio.sleep(0)
        slots.release()
        return order, slots.free

    order, free = asyncio.run(scenario())
    assert order == ["b", "c"] and free == 1  # no slot lost to the cancelled waiter


def test_the_rate_bound_holds_and_lets_waiters_through_in_groups():
    from audit.net.dns_limits import TokenBucket

    async def scenario():
        bucket = TokenBucket(rate=1000)  # bursts up to 100
        bucket.tokens = 0  # the burst already spent
        wakeups = []
        let_through = bucket._let_through

        def counted() -> None:
            wakeups.append(1)
            let_through()

        bucket._let_through = counted  # type: ignore[method-assign]
        order: list[int] = []

        async def one(i: int) -> None:
            await bucket.acquire()
            order.append(i)

        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(*(one(i) for i in range(50)))
        return order, loop.time() - start, len(wakeups)

    order, elapsed, wakeups = asyncio.run(scenario())
    assert order == list(range(50))  # first come, first served
    assert elapsed >= 50 / 1000 * 0.95  # never faster than the rate
    assert wakeups < 25  # grouped: not one timer per question
