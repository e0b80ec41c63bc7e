"""One standalone Postfix on loopback with an smtpd service per TLS scenario, each on its port.

    services = [SmtpdService("trusted", cert, key), SmtpdService("none", tls=False)]
    postfix = PostfixTls.start(run_dir, services)
    postfix.ports["trusted"]   # 127.0.0.1:PORT speaking SMTP with STARTTLS
    postfix.stop()

One master process serves every scenario (cheaper than one instance each): master.cf gets one
`inet` smtpd line per service with its own `-o smtpd_tls_chain_files=...` and options. The
instance lives in RUN_DIR (config, queue, log); nothing outside it is written. Postfix's master
must run as root. A watchdog stops it when the owning process (the pytest session) dies.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # as part of the tests package, or run from this directory
    from tests.infra.netutil import IPV4_LOOPBACK, free_port, retry_port_clash
    from tests.infra.servers import ServerError, wait_gone
except ImportError:  # pragma: no cover
    from netutil import IPV4_LOOPBACK, free_port, retry_port_clash  # type: ignore[no-redef]
    from servers import ServerError, wait_gone  # type: ignore[no-redef]

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {run}/etc
queue_directory = {run}/spool
data_directory = {run}/data
maillog_file = {run}/maillog
maillog_file_prefixes = {run}
myhostname = mx.tls.test
mydomain = tls.test
inet_interfaces = {host}
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP test
biff = no
alias_maps =
alias_database =
local_recipient_maps =
append_dot_mydomain = no
smtp_dns_support_level = disabled
default_transport = error:outbound disabled in test instance
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_loglevel = 1
"""

# Internal services every instance needs (from the reference configuration).
MASTER_CF_TAIL = """\
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
tlsmgr     unix  -       -       n       1000?   1       tlsmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
anvil      unix  -       -       n       -       1       anvil
scache     unix  -       -       n       -       1       scache
postlog    unix-dgram n  -       n       -       1       postlogd
"""

# TLS 1.0/1.1 need OpenSSL security level 0 on the server too (SHA-1 handshake signatures).
LEGACY_TLS_OPTIONS = {
    "smtpd_tls_protocols": ">=TLSv1",
    "tls_medium_cipherlist": "DEFAULT:@SECLEVEL=0",
}


@dataclass
class SmtpdService:
    """One scenario: an smtpd on its own port with this certificate (or no TLS at all)."""

    name: str
    cert: Path | None = None  # leaf + chain, PEM
    key: Path | None = None
    options: dict[str, str] = field(default_factory=dict)  # extra `-o name=value`
    tls: bool = True  # False: smtpd_tls_security_level = none (no STARTTLS offered)

    def master_line(self, host: str, port: int) -> str:
        options = {"syslog_name": f"postfix-{self.name}"}
        if self.tls:
            if self.cert is None or self.key is None:
                raise ValueError(f"service {self.name}: TLS needs cert and key")
            options["smtpd_tls_chain_files"] = f"{self.key},{self.cert}"
        else:
            options["smtpd_tls_security_level"] = "none"
        options.update(self.options)
        for name, value in options.items():
            if any(c.isspace() for c in value) or "," in name:
                raise ValueError(f"service {self.name}: option {name} has whitespace")
        lines = [f"{host}:{port} inet n - n - - smtpd"]
        lines += [f"  -o {name}={value}" for name, value in options.items()]
        return "\n".join(lines)


def postfix_installed() -> bool:
    return Path(POSTFIX).exists()


class PostfixTls:
    """The running instance: `ports` by service name, `run_dir`, `stop()`."""

    def __init__(self, run_dir: Path, ports: dict[str, int], process: subprocess.Popen) -> None:
        self.run_dir, self.ports, self.process = run_dir, ports, process
        self.host = IPV4_LOOPBACK
        self.watchdog: subprocess.Popen | None = None

    @property
    def etc(self) -> Path:
        return self.run_dir / "etc"

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> PostfixTls:
        """What _start_once does, again on fresh ports when one of those it chose was taken
        by another server before the daemon bound it (the log says "address already in use")."""
        return retry_port_clash(lambda: cls._start_once(*args, **kwargs))

    @classmethod
    def _start_once(
        cls,
        run_dir: Path | str,
        services: list[SmtpdService],
        *,
        owner_pid: int | None = None,
        timeout: float = 30,
        main_extra: dict[str, str] | None = None,
        master_extra: str = "",
    ) -> PostfixTls:
        """`main_extra` settings override MAIN_CF's (a relay: relayhost, default_transport);
        `master_extra` lines are added to master.cf (e.g. the `smtp unix` client service)."""
        if not postfix_installed():
            raise ServerError("postfix is not installed: run tests/infra/install.sh as root")
        if os.geteuid() != 0:
            raise ServerError("a standalone Postfix master must run as root")
        run = Path(run_dir).resolve()
        closed = [p for p in (run, *run.parents) if p.exists() and not p.stat().st_mode & 0o001]
        if closed:
            raise ServerError(
                f"{closed[0]} is not searchable by others (mode "
                f"{closed[0].stat().st_mode & 0o777:o}): Postfix's daemons, running as the "
                "postfix user, could not reach their files under it"
            )
        for sub in ("etc", "spool", "data"):
            (run / sub).mkdir(parents=True, exist_ok=True)
        ports = {s.name: free_port() for s in services}
        main = MAIN_CF.format(run=run, host=IPV4_LOOPBACK)
        for name, value in (main_extra or {}).items():  # postconf: the last definition wins
            main = re.sub(rf"(?m)^{re.escape(name)} =.*\n", "", main) + f"{name} = {value}\n"
        (run / "etc" / "main.cf").write_text(main)
        master = [s.master_line(IPV4_LOOPBACK, ports[s.name]) for s in services]
        (run / "etc" / "master.cf").write_text(
            "\n".join(master) + "\n" + master_extra + MASTER_CF_TAIL
        )
        shutil.chown(run / "data", user="postfix")
        for command in (["set-permissions"], ["check"]):
            proc = subprocess.run(
                [POSTFIX, "-c", str(run / "etc"), *command],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if proc.returncode != 0 and command == ["check"]:
                raise ServerError(f"postfix check failed:\n{proc.stderr}{proc.stdout}")
        log = open(run / "start-fg.log", "w")  # noqa: SIM115 - handed to the child
        process = subprocess.Popen(
            [POSTFIX, "-c", str(run / "etc"), "start-fg"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one
        )
        log.close()
        server = cls(run, ports, process)
        try:
            server._wait_ready(timeout)
        except ServerError:
            server.stop()
            raise
        if owner_pid:
            server.watchdog = server._start_watchdog(owner_pid)
        return server

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.ports.values())
        while pending:
            if self.process.poll() is not None:
                raise ServerError(f"postfix exited during start-up:\n{self._logs()}")
            for port in list(pending):
                try:
                    with socket.create_connection((self.host, port), 0.5) as sock:
                        sock.settimeout(2)
                        if sock.recv(100).startswith(b"220"):
                            pending.discard(port)
                except OSError:
                    pass
            if pending and time.monotonic() > deadline:
                raise ServerError(f"postfix did not listen on {sorted(pending)}:\n{self._logs()}")
            if pending:
                time.sleep(0.1)

    def _logs(self) -> str:
        parts = []
        for name in ("start-fg.log", "maillog"):
            path = self.run_dir / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def _start_watchdog(self, owner_pid: int) -> subprocess.Popen:
        """Runs `postfix stop` for this instance when `owner_pid` exits without stop()."""
        script = (
            'while kill -0 "$0" 2>/dev/null; do sleep 1; done; '
            'exec "$1" -c "$2" stop >/dev/null 2>&1'
        )
        return subprocess.Popen(
            ["bash", "-c", script, str(owner_pid), POSTFIX, str(self.etc)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def master_pid(self) -> int | None:
        """The master daemon (it runs in a session of its own, apart from `process`)."""
        try:
            pid = int((self.run_dir / "spool" / "pid" / "master.pid").read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            return None
        return pid if b"master" in cmdline else None

    def stop(self) -> None:
        """Stops the master (which stops its children) and waits until it is gone."""
        if self.watchdog is not None and self.watchdog.poll() is None:
            self.watchdog.terminate()
            self.watchdog.wait(timeout=10)
        master = self.master_pid
        if master is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(master, signal.SIGTERM)
            if not wait_gone(master, timeout=15):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(master, signal.SIGKILL)
                if not wait_gone(master, timeout=10):
                    raise ServerError(f"postfix master {master} did not stop")
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


# --------------------------------------------------------------------------- the TLS scenarios

# scenario -> the MX host name its certificate is judged against (zone: MX_HOST A 127.0.0.1)
SCENARIO_HOSTS = {
    "trusted": "mx-trusted.tls.test",
    "mismatch": "mx-mismatch.tls.test",
    "expired": "mx-expired.tls.test",
    "expiring": "mx-expiring.tls.test",
    "selfsigned": "mx-selfsigned.tls.test",
    "legacy": "mx-legacy.tls.test",
    "none": "mx-none.tls.test",
}


@dataclass
class TlsScenarios:
    """The running Postfix, the CA that signed its certificates, and each scenario's port."""

    postfix: PostfixTls
    ca_file: Path
    hosts: dict[str, str]

    @property
    def ports(self) -> dict[str, int]:
        return self.postfix.ports

    def stop(self) -> None:
        self.postfix.stop()


def start_tls_scenarios(run_dir: Path | str, *, owner_pid: int | None = None) -> TlsScenarios:
    """Postfix with one smtpd per scenario of SCENARIO_HOSTS, certificates from a new test CA:

    trusted (valid, right name), mismatch (valid, other name), expired (an hour ago),
    expiring (5 days left), selfsigned, legacy (right name, TLS 1.0 and 1.1 accepted),
    none (no STARTTLS).
    """
    import datetime as dt

    try:
        from tests.infra.certs import TestCA
    except ImportError:  # pragma: no cover
        from certs import TestCA  # type: ignore[no-redef]

    run = Path(run_dir).resolve()
    certs = run / "certs"
    ca = TestCA()
    ca_file = ca.write_ca(certs / "ca.pem")
    now = dt.datetime.now(dt.UTC)
    host = SCENARIO_HOSTS
    issued = {
        "trusted": ca.issue(host["trusted"]),
        "mismatch": ca.issue("other-name.example.test"),
        # inside the CA's lifetime (it starts a day ago), ended an hour ago
        "expired": ca.issue(
            host["expired"],
            not_before=now - dt.timedelta(hours=20),
            not_after=now - dt.timedelta(hours=1),
        ),
        "expiring": ca.issue(host["expiring"], days=5),
        "selfsigned": ca.issue(host["selfsigned"], self_signed=True),
        "legacy": ca.issue(host["legacy"]),
    }
    services = []
    for name, cert in issued.items():
        cert_path, key_path = cert.write(certs, name)
        options = dict(LEGACY_TLS_OPTIONS) if name == "legacy" else {}
        services.append(SmtpdService(name, cert_path, key_path, options))
    services.append(SmtpdService("none", tls=False))
    postfix = PostfixTls.start(run / "postfix", services, owner_pid=owner_pid)
    return TlsScenarios(postfix, ca_file, dict(SCENARIO_HOSTS))
