"""Throughput and memory of batch runs, against the baselines, in one run on one machine.

Generates N synthetic sending domains in one zone (`dNNNNN.test`: MX on a provider's hosts with
PTR, SPF with the provider's shared includes, DMARC, a DKIM key; about 4% faulty: no DMARC, SPF
over ten lookups, a broken DKIM key, an MX host without address), serves them from Knot on
loopback behind a front delaying every answer by a fixed time (bench/delayed_dns.py: a C relay,
dnsdist or a Python relay), and measures:

  * the server itself (a flood of queries at high concurrency): it must not be the bottleneck,
    nor take much of the cores it shares with what is measured (its CPU per answer, and its
    share of a core during each audit run, are printed);
  * `audit domain --from-file` for each N and concurrency: domains/s, peak RSS of the process,
    DNS001 findings (none are expected: every name answers, so any is self-inflicted), answers
    logged per domain;
  * checkdmarc 6 over the first domains, sequential and with a 16-thread pool (same DNS);
  * `audit message` over M signed messages with --jobs 1 and 2, and authheaders (dkimpy, pyspf,
    its DMARC) over the same messages and DNS;
  * optionally the same commands run from another source tree (--baseline-tree, e.g. the
    previous release unpacked) for "today's" rates.

Each measurement runs in its own process (peak RSS is that process's own, from wait4), started
in the source tree it measures (`python -m audit` imports from the cwd first: the benchmark
prints where the message runs of each tree import `audit` from) and with a fresh run history
(AUDIT_STATE_DIR). Results are ratios in one table; other load on the machine affects both
sides alike, and is printed.

    python bench/scale.py                                     # N=1000,10000; takes a while
    python bench/scale.py --sizes 200 --concurrency 50 --checkdmarc 50,100 --messages 100
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import delayed_dns  # noqa: E402

PROVIDER_NET = "198.51.100"
FAULTS = {0: "no-dmarc", 7: "spf-too-many", 13: "dkim-broken", 19: "mx-no-address"}  # i % 25


def domain_name(i: int) -> str:
    return f"d{i:05d}.test"


# --------------------------------------------------------------------------- synthetic zones


def _key_pair():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def _txt(text: str) -> str:
    """A TXT rdata in 255-octet strings (a DKIM key is longer than one)."""
    return " ".join(f'"{text[i : i + 250]}"' for i in range(0, len(text), 250))


def write_zones(directory: Path, count: int, public_key: str) -> None:
    soa = "@ SOA ns1.provider.test. hostmaster.provider.test. 1 3600 600 86400 300\n"
    soa += "@ NS ns1.provider.test.\n"
    lines = ["$ORIGIN test.\n$TTL 3600\n", soa]
    lines.append(f"ns1.provider A {PROVIDER_NET}.1\n")
    for host, last in (("mx1", 10), ("mx2", 11)):
        lines.append(f"{host}.provider A {PROVIDER_NET}.{last}\n")
    lines.append(f'_spf.provider TXT "v=spf1 ip4:{PROVIDER_NET}.0/24 -all"\n')
    lines.append('_spf.esp TXT "v=spf1 ip4:203.0.113.0/24 ~all"\n')
    for k in range(1, 12):
        lines.append(f'_spf{k}.chain TXT "v=spf1 ip4:192.0.2.{k} ?all"\n')
    too_many = " ".join(f"include:_spf{k}.chain.test" for k in range(1, 12))
    key = _txt(f"v=DKIM1; k=rsa; p={public_key}")
    for i in range(1, count + 1):
        d = domain_name(i).removesuffix(".test")
        fault = FAULTS.get(i % 25)
        if fault == "mx-no-address":
            lines.append(f"{d} MX 10 mx.{d}.test.\n")
        else:
            lines.append(f"{d} MX 10 mx1.provider.test.\n{d} MX 20 mx2.provider.test.\n")
        shared = "include:_spf.provider.test include:_spf.esp.test"
        spf = too_many if fault == "spf-too-many" else shared
        lines.append(f"{d} TXT {_txt(f'v=spf1 {spf} -all')}\n")
        if fault != "no-dmarc":
            lines.append(f'_dmarc.{d} TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{d}.test"\n')
        dkim = _txt("v=DKIM1; k=rsa; p=bm90IGEga2V5") if fault == "dkim-broken" else key
        lines.append(f"s1._domainkey.{d} TXT {dkim}\n")
    (directory / "test.zone").write_text("".join(lines))
    reverse = ["$ORIGIN 100.51.198.in-addr.arpa.\n$TTL 3600\n", soa]
    reverse += ["1 PTR ns1.provider.test.\n", "10 PTR mx1.provider.test.\n"]
    reverse += ["11 PTR mx2.provider.test.\n"]
    (directory / "100.51.198.in-addr.arpa.zone").write_text("".join(reverse))


MESSAGE_SENDERS = 500  # write_messages signs as 20 of the first 500 domains


def write_messages(path: Path, count: int, private_key: bytes) -> None:
    """An mbox of `count` DKIM-signed messages from 20 of the domains, sent from the
    provider's network (SPF passes)."""
    import dkim

    parts = []
    for i in range(count):
        d = domain_name(1 + (i % 20) * 25 + 1)  # fault-free domains (i % 25 == 2)
        msg = (
            f"Return-Path: <bounce@{d}>\r\n"
            f"Received: from out.provider.test (out.provider.test [{PROVIDER_NET}.10]) by "
            f"mx.receiver.example with ESMTPS id {i}; Tue, 24 Nov 2026 10:00:01 +0000\r\n"
            f"From: News <news@{d}>\r\nTo: r@receiver.example\r\nSubject: Issue {i}\r\n"
            f"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m{i}@{d}>\r\n\r\n"
            f"Hello number {i}.\r\n"
        ).encode()
        signed = dkim.sign(msg, b"s1", d.encode(), private_key) + msg
        parts.append(b"From bounce@" + d.encode() + b" Tue Nov 24 10:00:00 2026\n" + signed + b"\n")
    path.write_bytes(b"".join(parts))


# --------------------------------------------------------------------------- measuring


def measured(
    command: list[str], env: dict[str, str] | None = None, stdout=None, cwd: Path | None = None
) -> dict:
    """Run `command`; its wall time and its own peak RSS (wait4, not the whole family)."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=stdout or subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=cwd)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime  # with the worker processes it waited for
    return {"wall": wall, "rss_mb": usage.ru_maxrss / 1024, "cpu": cpu, "code": code,
            "stderr": stderr[-500:]}  # fmt: skip


def tree_env(tree: Path, work: Path, label: str) -> dict[str, str]:
    """The environment of one audit run from `tree`: its own PYTHONPATH and a fresh run-history
    directory (a history grown by earlier runs would slow the write at the end of each run).
    Run it with cwd=tree too: `python -m audit` puts the cwd first on sys.path, so a run from
    another source tree's directory would measure that tree instead."""
    state = work / "state" / label
    shutil.rmtree(state, ignore_errors=True)
    return {**os.environ, "PYTHONPATH": str(tree), "AUDIT_STATE_DIR": str(state)}


def imported_from(tree: Path, work: Path) -> str:
    """Where `python -m audit` run as the benchmark runs it imports the package from."""
    probe = [sys.executable, "-c", "import audit; print(audit.__file__)"]
    return subprocess.run(probe, env=tree_env(tree, work, "probe"), cwd=tree,
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip


def jsonl_stats(path: Path) -> dict:
    """Lines, DNS001 findings, and those of them that are timeouts: every synthetic name
    answers, so a timeout is the tool's own doing (a REFUSED from Knot for a name outside its
    zones, e.g. a public blocklist, is a DNS001 too, but not a self-inflicted one)."""
    lines = dns001 = timeouts = answers = 0
    examples: list[str] = []
    with path.open() as stream:
        for line in stream:
            report = json.loads(line)
            lines += 1
            answers += len(report["queries"])
            for outcome in report["outcomes"]:
                for finding in outcome["findings"]:
                    if finding["rule_id"] == "DNS001":
                        dns001 += 1
                        timeouts += "TIMEOUT" in finding["message"]
                        if len(examples) < 5:
                            examples.append(f"{report['target']}: {finding['message']}")
    return {"lines": lines, "dns001": dns001, "dns001_timeouts": timeouts,
            "answers_per_domain": answers / max(1, lines), "dns001_examples": examples}  # fmt: skip


async def _flood(host: str, port: int, count: int, concurrency: int, names: int) -> float:
    """Queries a second the server answers at `concurrency` in flight, asked over the tool's
    own lean wire (dnspython's client would measure itself, not the server)."""
    from audit.net.dns_wire import UdpWire

    wire = UdpWire([(host, port)], lifetime=10, attempt_timeout=5)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await wire.ask(domain_name(1 + i % names), "TXT")

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - start)


def checkdmarc_worker(args: argparse.Namespace) -> None:
    """In its own process: checkdmarc over the list, sequential or in a thread pool."""
    import checkdmarc
    import dns.nameserver

    host, port = args.server.rsplit(":", 1)
    servers = [dns.nameserver.Do53Nameserver(host, int(port))]
    names = Path(args.list).read_text().split()

    def one(name: str):
        return checkdmarc.check_domains([name], nameservers=servers, timeout=5.0)

    if args.threads > 1:
        with ThreadPoolExecutor(args.threads) as pool:
            results = list(pool.map(one, names))
    else:
        results = [one(n) for n in names]
    errors = sum(1 for r in results if "error" in json.dumps(r.get("spf", {}), default=str))
    print(json.dumps({"domains": len(results), "spf_errors": errors}))


def authheaders_worker(args: argparse.Namespace) -> None:
    """In its own process: authheaders (dkimpy + pyspf + its DMARC) over every message."""
    import mailbox

    import authheaders
    import dns.nameserver
    import dns.resolver

    host, port = args.server.rsplit(":", 1)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, int(port))]
    resolver.lifetime = 5
    dns.resolver.default_resolver = resolver  # pyspf asks through dnspython's default

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        try:
            answer = resolver.resolve(name.rstrip("."), "TXT")
        except dns.exception.DNSException:
            return None
        data = b"".join(b"".join(r.strings) for r in answer[:1])
        # dkimpy parses bytes; authheaders' DMARC lookup concatenates str
        return data.decode() if name.startswith("_dmarc.") else data

    passed = 0
    for message in mailbox.mbox(args.mbox):
        raw = message.as_bytes().replace(b"\n", b"\r\n")
        result = authheaders.authenticate_message(
            raw, "receiver.example", spf=True, ip=f"{PROVIDER_NET}.10",
            mail_from=message["Return-Path"].strip("<>"), helo="out.provider.test",
            dnsfunc=dnsfunc,
        )  # fmt: skip
        passed += "dkim=pass" in result
    print(json.dumps({"dkim_pass": passed}))


# --------------------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="N values, comma separated")
    parser.add_argument("--concurrency", default="default,500",
                        help="audit --concurrency values ('default': the CLI's own)")  # fmt: skip
    parser.add_argument("--runs", default=None,
                        help="N:CONCURRENCY pairs instead of sizes x concurrency, e.g. "
                        "1000:default,1000:500,10000:500")  # fmt: skip
    parser.add_argument("--tuned-dns-rate", default="0",
                        help="audit --dns-rate in runs at a given concurrency (the default "
                        "protects public resolvers; this server is local; 0: none)")  # fmt: skip
    parser.add_argument("--delay-ms", type=float, default=15.0, help="added to every DNS answer")
    parser.add_argument("--checkdmarc", default="100,1000",
                        help="domains for checkdmarc sequential,16-thread (0 skips)")  # fmt: skip
    parser.add_argument("--messages", type=int, default=1000, help="signed messages (0 skips)")
    parser.add_argument("--messages-only", action="store_true",
                        help="only the message part: no domain runs, no checkdmarc")  # fmt: skip
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="another source tree whose audit runs the same commands")  # fmt: skip
    parser.add_argument("--flood", type=int, default=4000, help="queries to time the server")
    parser.add_argument("--front", choices=delayed_dns.FRONTS, default="auto",
                        help="what delays the answers (bench/delayed_dns.py; auto: the C relay "
                        "where it compiles, else dnsdist, else the Python relay)")  # fmt: skip
    parser.add_argument("--offline", action="store_true",
                        help="audit runs read the zone files (--zone-dir): memory and CPU without "
                        "DNS latency (the baselines still use the DNS server)")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--serve", action="store_true",
                        help="only start the delayed DNS server for the largest size, print "
                        "its address and domain list, and wait (Ctrl-C stops)")  # fmt: skip
    parser.add_argument("--worker", choices=("checkdmarc", "authheaders"), help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--list", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--mbox", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "checkdmarc":
        return checkdmarc_worker(args)
    if args.worker == "authheaders":
        return authheaders_worker(args)
    if args.messages_only:  # zones for the messages' senders (d00002..d00477), nothing else
        args.sizes, args.runs, args.checkdmarc = str(MESSAGE_SENDERS), None, "0,0"

    from tests.infra.netutil import free_port
    from tests.infra.servers import KnotServer

    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.runs:
        sizes = [int(r.split(":")[0]) for r in args.runs.split(",")]
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="audit-bench-"))).resolve()
    zones = work / "zones"
    zones.mkdir(parents=True, exist_ok=True)
    private, public = _key_pair()
    write_zones(zones, max(sizes), public)
    knot = KnotServer.start(work / "knot", zones)
    port = free_port()
    front = delayed_dns.start(knot.port, args.delay_ms, work, port, args.front)
    server_pids = [front.process.pid, *([knot.pid] if knot.pid else [])]
    server = f"127.0.0.1:{port}"
    results: dict = {"delay_ms": args.delay_ms, "server": {}, "audit": [], "baselines": {},
                     "imported_from": {}}  # fmt: skip
    try:
        if args.serve:
            return _serve(server, work, max(sizes), args.messages, private)
        print(f"load average at start: {os.getloadavg()}; cores: {os.cpu_count()}")
        before = _cpu_seconds(server_pids)
        capacity = asyncio.run(_flood("127.0.0.1", port, args.flood, 400, max(sizes)))
        per_answer = (_cpu_seconds(server_pids) - before) / args.flood
        results["server"].update(qps_capacity=capacity, cpu_us_per_answer=per_answer * 1e6,
                                 front=front.kind)  # fmt: skip
        print(f"DNS server (Knot + {args.delay_ms:g} ms delay by {front.kind}): "
              f"{capacity:,.0f} queries/s at 400 in flight, {per_answer * 1e6:.0f} us of CPU "
              "per answer (front and Knot)")  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        audit = [sys.executable, "-m", "audit"]
        plan = (
            [r.split(":") for r in args.runs.split(",")]
            if args.runs
            else [(str(n), c) for n in sizes for c in args.concurrency.split(",")]
        )
        for size, conc in [] if args.messages_only else plan:
            n = int(size)
            listing = work / f"list-{n}.txt"
            listing.write_text("\n".join(domain_name(i) for i in range(1, n + 1)) + "\n")
            results["audit"].append(
                _domain_run(audit, listing, n, conc, work, zones, server, server_pids, args)
            )
        seq_n, pool_n = (int(x) for x in args.checkdmarc.split(","))
        if (seq_n or pool_n) and not _installed("checkdmarc"):
            print("checkdmarc is not installed (pip install 'audit[bench]'): skipped")
            seq_n = pool_n = 0
        me = [sys.executable, str(Path(__file__).resolve())]
        for label, count, threads in (("sequential", seq_n, 1), ("16 threads", pool_n, 16)):
            if not count:
                continue
            listing = work / f"cd-{count}.txt"
            listing.write_text("\n".join(domain_name(i) for i in range(1, count + 1)) + "\n")
            run = measured(me + ["--worker", "checkdmarc", "--server", server, "--list",
                                 str(listing), "--threads", str(threads)], env)  # fmt: skip
            rate = count / run["wall"]
            results["baselines"][f"checkdmarc {label}"] = {"n": count, **run, "rate": rate}
            print(f"checkdmarc {label:<11} N={count:<6} {rate:8.1f} domains/s  CPU "
                  f"{1000 * run['cpu'] / count:5.1f} ms/domain  peak RSS "
                  f"{run['rss_mb']:6.1f} MB  exit {run['code']}")  # fmt: skip
        if args.messages:
            box = work / "messages.mbox"
            write_messages(box, args.messages, private)
            trees = [("audit", ROOT)] + ([("baseline", args.baseline_tree.resolve())]
                                         if args.baseline_tree else [])  # fmt: skip
            for label, tree in trees:
                source = results["imported_from"][label] = imported_from(tree, work)
                print(f"audit message ({label}) imported from {source}")
                for jobs in (1, 2) if label == "audit" else (1,):
                    command = audit + ["message", str(box), "--dns-server", server, "--format",
                                       "jsonl"]  # fmt: skip
                    if label == "audit":
                        command += ["--jobs", str(jobs)]
                    else:
                        command[-1] = "json"
                    run = measured(command, tree_env(tree, work, f"{label}-{jobs}"), cwd=tree)
                    rate = args.messages / run["wall"]
                    results["baselines"][f"message {label} jobs={jobs}"] = {**run, "rate": rate}
                    print(f"audit message ({label}) --jobs {jobs}: {rate:8.1f} messages/s  "
                          f"peak RSS {run['rss_mb']:6.1f} MB  exit {run['code']}")  # fmt: skip
            if _installed("authheaders") and _installed("spf"):
                run = measured(me + ["--worker", "authheaders", "--server", server, "--mbox",
                                     str(box)], env)  # fmt: skip
                rate = args.messages / run["wall"]
                results["baselines"]["authheaders"] = {**run, "rate": rate}
                print(f"authheaders:                  {rate:8.1f} messages/s  exit {run['code']}")
            else:
                print("authheaders/pyspf are not installed (pip install 'audit[bench]'): skipped")
        _ratios(results)
        print(f"load average at end: {os.getloadavg()}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
    finally:
        front.stop()
        knot.stop()


def _domain_run(audit: list[str], listing: Path, n: int, conc: str, work: Path, zones: Path,
                server: str, server_pids: list[int], args: argparse.Namespace) -> dict:  # fmt: skip
    """`audit domain --from-file` over the first `n` domains at concurrency `conc`: its row of
    results (rate, CPU, peak RSS, DNS001, the DNS server's share of a core), printed too."""
    out = work / f"out-{n}-{conc}.jsonl"
    source = ["--zone-dir", str(zones)] if args.offline else ["--dns-server", server]
    command = audit + ["domain", "--from-file", str(listing), *source,
                       "--no-probes", "--format", "jsonl", "-o", str(out)]  # fmt: skip
    if conc != "default":  # tuned for a local server: no rate bound either
        command += ["--concurrency", conc, "--dns-rate", args.tuned_dns_rate]
    before = _cpu_seconds(server_pids)
    run = measured(command, tree_env(ROOT, work, f"domain-{n}-{conc}"), cwd=ROOT)
    server_share = (_cpu_seconds(server_pids) - before) / run["wall"]
    stats = jsonl_stats(out)
    row = {"n": n, "concurrency": conc, **run, **stats, "rate": n / run["wall"],
           "server_cpu_share": server_share}  # fmt: skip
    for example in stats["dns001_examples"]:
        print(f"    DNS001 {example}")
    print(f"audit N={n:<6} concurrency={conc:<8} {row['rate']:8.1f} domains/s  "
          f"CPU {1000 * row['cpu'] / n:5.1f} ms/domain  "
          f"peak RSS {row['rss_mb']:6.1f} MB  DNS001 {row['dns001']} (timeouts "
          f"{row['dns001_timeouts']})  lines "
          f"{row['lines']}  answers/domain {row['answers_per_domain']:.1f}  "
          f"DNS server {100 * server_share:.0f}% of a core  "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    out.unlink()
    return row


def _serve(server: str, work: Path, count: int, messages: int, private_key: bytes) -> None:
    """--serve: the server's address, a list of its domains and an mbox signed with the zones'
    key (when the domains include the senders), then wait for Ctrl-C."""
    listing = work / f"list-{count}.txt"
    listing.write_text("\n".join(domain_name(i) for i in range(1, count + 1)) + "\n")
    box = ""
    if messages and count >= MESSAGE_SENDERS:
        write_messages(work / "messages.mbox", messages, private_key)
        box = f"; mbox {work / 'messages.mbox'}"
    print(f"serving {count} domains at {server}; list {listing}{box}; Ctrl-C stops", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a kill too stops the servers
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of `pids` so far (/proc; 0 for a process gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _ratios(results: dict) -> None:
    base = results["baselines"]
    print("\nratios")
    for row in results["audit"]:
        for name in ("checkdmarc 16 threads", "checkdmarc sequential"):
            if name in base:
                print(f"  audit N={row['n']} c={row['concurrency']} / {name}: "
                      f"{row['rate'] / base[name]['rate']:.1f}x")  # fmt: skip
    jobs2, jobs1 = base.get("message audit jobs=2"), base.get("message audit jobs=1")
    for name, other in (("audit jobs=1", jobs1), ("baseline jobs=1", base.get(
            "message baseline jobs=1")), ("authheaders", base.get("authheaders"))):  # fmt: skip
        if jobs2 and other:
            print(f"  audit message --jobs 2 / {name}: {jobs2['rate'] / other['rate']:.1f}x")


if __name__ == "__main__":
    main()
