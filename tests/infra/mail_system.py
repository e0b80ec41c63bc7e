"""The loopback mail system the `audit seed` tests run against: real MTAs, real milters, real IMAP.

`MailSystem.start(run_dir)` starts, on free loopback ports, from the templates in
tests/infra/mailsys/:

* **Knot DNS** serving the zones written into `zone_dir` at start time:
  `good.sender.test` (SPF `v=spf1 ip4:127.0.0.0/8 -all`, at `s1._domainkey` the DKIM key
  OpenDKIM signs with, DMARC `p=reject; adkim=s; aspf=s`), `broken.sender.test` (SPF
  `v=spf1 ip4:192.0.2.0/24 ~all`, so 127.0.0.1 soft-fails; at `s1._domainkey` a well-formed
  2048-bit key that is NOT the one its mail is signed with; DMARC `p=quarantine`),
  `sender.test` (the sending MTA's HELO name `smtp.sender.test`) and `seeds.test` (MX
  `mx.seeds.test` -> 127.0.0.1). The DKIM keys are made at each start. The audit asks Knot
  at `dns_server` ("127.0.0.1:PORT", what --dns-server takes) or reads `zone_dir`.
* **The seed MX** (receiving Postfix on `mx_port`, inbound for seeds.test): the SPF policy
  daemon (postfix-policyd-spf-python) at RCPT time, then OpenDKIM (verify mode; writes
  `dkim=none` for unsigned mail too) and OpenDMARC (reads those results, never rejects) as
  milters. Each writes its own `Authentication-Results: mx.seeds.test; spf=|dkim=|dmarc=...`
  header (authserv-id `authserv_id`). Delivery over LMTP to Dovecot. Mail to a junk seed
  (seed3) lands in its Junk folder: the MX rewrites the envelope recipient
  `seed3@seeds.test` to `seed3+Junk@seeds.test` (virtual_alias_maps; headers untouched) and
  Dovecot's LMTP stores a `+Junk` detail in that folder.
* **Dovecot**: IMAP with STARTTLS (`imap_port`) and IMAPS (`imaps_port`) for the `seeds`,
  folders INBOX, Junk, Sent, Trash; a certificate for imap.seeds.test and 127.0.0.1 issued by
  a fresh test CA (`ca_file`, what --ca-file takes). LOGIN works before STARTTLS too.
* **The sending Postfix** (HELO `smtp.sender.test`), relaying everything to the seed MX
  (`relayhost = [127.0.0.1]:mx_port`, no DNS). On `submission_port` OpenDKIM signs (relaxed/
  relaxed, rsa-sha256, d= the From domain, s=s1): mail From good.sender.test with the key in
  DNS (dkim=pass), mail From broken.sender.test with a key that does not match DNS
  (dkim=fail), anything else not at all. `unsigned_port` relays without signing (dkim=none).
  Both offer STARTTLS (certificate for smtp.sender.test and 127.0.0.1, same CA) and, after
  STARTTLS, AUTH PLAIN/LOGIN as `smtp_user`/`smtp_password` (Dovecot SASL); AUTH is optional:
  loopback clients may relay without it, a wrong password gets 535.

What the copies say (checked by tests/integration/test_mail_system.py):
good.sender.test via submission_port: spf=pass, dkim=pass, dmarc=pass;
broken.sender.test via submission_port: spf=softfail, dkim=fail, dmarc=fail;
good.sender.test via unsigned_port: spf=pass, dkim=none, dmarc=pass (SPF-aligned).

How the milters reach Knot without touching the host's /etc/resolv.conf: OpenDMARC and pyspf
(in policyd-spf) use the system resolver, which only talks to port 53 as /etc/resolv.conf
says. So Knot also listens on port 53 of a private loopback address (`resolver_address`, a
random free 127.53.x.y: every 127/8 address is local on Linux), and OpenDMARC and the seed MX's
Postfix master (hence the policyd-spf it spawns) run under `unshare --mount` with
`resolv.conf` ("nameserver 127.53.x.y") bind-mounted over /etc/resolv.conf in their private
mount namespace. Debian's OpenDKIM resolves with libunbound instead, which ignores resolv.conf:
it gets `ResolverConfiguration unbound.conf` with stub zones on Knot's own port
(see mailsys/unbound.conf.in for the two libunbound defaults that must be undone).
Needs root: port 53, unshare, Postfix and Dovecot.

Files: the generated configs, zones, keys, certificates, queues and mailboxes live in
`state_dir` (`run_dir/state`, or a fresh /tmp/audit-mailsys-* linked from there when
`run_dir` sits under a directory other users cannot enter, as pytest's tmp dirs do: Postfix,
Dovecot's mail processes and policyd-spf run unprivileged; it is removed on stop). Every
daemon runs in the foreground as a child of this process; its pid is in `run_dir/pids/`, its
output (Postfix's maillog and Dovecot's log included) in `run_dir/logs/NAME.out`, kept after
stop. A start that fails raises ServerError carrying those logs. `stop()` (or
`mailsys/stop.sh RUN_DIR`) stops the daemons by pid and waits until each has exited; a
watchdog does the same when the process that started them dies (a killed pytest).

By hand: `bash tests/infra/mailsys/start.sh RUN_DIR` prints the handle as JSON (also in
RUN_DIR/handle.json) and leaves the system running; `bash tests/infra/mailsys/stop.sh RUN_DIR`.
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rcode
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.infra.certs import TestCA
from tests.infra.netutil import IPV4_LOOPBACK, free_port, retry_port_clash
from tests.infra.servers import Endpoint, ServerError

INFRA = Path(__file__).resolve().parent
TEMPLATES = INFRA / "mailsys"

SEED_DOMAIN = "seeds.test"
AUTHSERV_ID = "mx.seeds.test"
IMAP_HOSTNAME = "imap.seeds.test"
SUBMIT_HOSTNAME = "smtp.sender.test"
GOOD_DOMAIN = "good.sender.test"
BROKEN_DOMAIN = "broken.sender.test"
DKIM_SELECTOR = "s1"
ZONES = (GOOD_DOMAIN, BROKEN_DOMAIN, "sender.test", SEED_DOMAIN)

POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"
TOOLS = ("knotd", "postfix", "dovecot", "opendkim", "opendmarc", "policyd-spf", "unshare")
TEMP_MARKER = ".remove-on-stop"  # state dirs made in /tmp carry it; stop.sh removes them


def missing_tools() -> list[str]:
    """The programs this needs that are not installed (tests/infra/install.sh installs them)."""
    missing = [t for t in TOOLS if not (shutil.which(t) or Path("/usr/sbin", t).exists())]
    if not Path(POSTFIX_MASTER).exists():
        missing.append(POSTFIX_MASTER)
    return missing


@dataclass(frozen=True)
class Seed:
    """One seed mailbox: log in as `username`/`password`; mail to `address` lands in `folder`."""

    address: str
    password: str
    folder: str  # "INBOX", or "Junk" for a junk seed

    @property
    def username(self) -> str:
        return self.address

    @property
    def password_env(self) -> str:
        """The environment variable `MailSystem.password_env()`/`seeds_toml()` use for it."""
        return re.sub(r"[^A-Z0-9]", "_", self.address.split("@")[0].upper()) + "_PASSWORD"


@dataclass
class MailSystem:
    """The running system; every service is on 127.0.0.1 (`host`). See the module docstring."""

    run_dir: Path  # logs/, pids/, handle.json; state -> state_dir
    state_dir: Path  # generated configs, zones, keys, certificates, queues, mailboxes
    zone_dir: Path  # good.sender.test.zone, broken.sender.test.zone, ... (for --zone-dir)
    ca_file: Path  # the test CA's certificate (for --ca-file)
    dns_server: Endpoint  # "127.0.0.1:PORT" (for --dns-server), with .host and .port
    resolver_address: str  # Knot on port 53 of this address: for the milters, not the audit
    mx_port: int  # the seed MX (receiving Postfix), STARTTLS
    submission_port: int  # sending Postfix, DKIM-signing; STARTTLS, optional AUTH
    unsigned_port: int  # sending Postfix, no DKIM signature; STARTTLS, optional AUTH
    imap_port: int  # Dovecot IMAP, STARTTLS
    imaps_port: int  # Dovecot IMAP over implicit TLS
    lmtp_port: int  # Dovecot LMTP (the MX delivers there)
    sasl_port: int  # Dovecot SASL for the sending Postfix
    smtp_user: str
    smtp_password: str
    seeds: list[Seed]
    host: str = IPV4_LOOPBACK
    seed_domain: str = SEED_DOMAIN
    authserv_id: str = AUTHSERV_ID
    good_domain: str = GOOD_DOMAIN
    broken_domain: str = BROKEN_DOMAIN
    dkim_selector: str = DKIM_SELECTOR
    mx_hostname: str = AUTHSERV_ID
    imap_hostname: str = IMAP_HOSTNAME
    submit_hostname: str = SUBMIT_HOSTNAME
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)

    @property
    def dns_port(self) -> int:
        return self.dns_server.port

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    def seed(self, name: str) -> Seed:
        """`seed("seed3")` or `seed("seed3@seeds.test")`."""
        address = name if "@" in name else f"{name}@{self.seed_domain}"
        return next(s for s in self.seeds if s.address == address)

    def password_env(self) -> dict[str, str]:
        """{"SEED1_PASSWORD": "...", ...}: the variables `seeds_toml()` names."""
        return {s.password_env: s.password for s in self.seeds}

    def seeds_toml(self, imap_url: str | None = None) -> str:
        """A seed list in issue 5's format for these mailboxes: IMAP with STARTTLS
        (imap://127.0.0.1:imap_port) unless `imap_url` says otherwise (imaps://...)."""
        url = imap_url or f"imap://{self.host}:{self.imap_port}"
        return "\n".join(
            f'[[seed]]\naddress = "{s.address}"\nimap = "{url}"\nusername = "{s.username}"\n'
            f'password_env = "{s.password_env}"\nprovider = "generic"\n'
            for s in self.seeds
        )

    def handle(self) -> dict[str, object]:
        """Every public attribute as JSON-able values (what start.sh prints)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        data["seeds"] = [
            asdict(s) | {"username": s.username, "password_env": s.password_env} for s in self.seeds
        ]
        data["dns_port"] = self.dns_port
        return {k: v if isinstance(v, int | list) else str(v) for k, v in data.items()}

    def logs(self) -> str:
        """The tail of every daemon's log (for failure messages)."""
        return _read_logs(self.run_dir)

    def stop(self) -> None:
        """Stops every daemon by its pid, waits until each has exited, removes a /tmp state dir."""
        proc = subprocess.run(
            ["bash", str(TEMPLATES / "stop.sh"), str(self.run_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        for child in self._procs.values():  # reap our children
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)
        self._procs.clear()
        if proc.returncode != 0:
            raise ServerError(f"mail system did not stop:\n{proc.stderr}")

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> MailSystem:
        """What _start_once does, again on fresh ports when one of those it chose was taken
        by another server before the daemon bound it (the log says "address already in use")."""
        return retry_port_clash(lambda: cls._start_once(*args, **kwargs))

    @classmethod
    def _start_once(
        cls,
        run_dir: Path,
        *,
        seeds: tuple[str, ...] = ("seed1", "seed2", "seed3"),
        junk_seeds: tuple[str, ...] = ("seed3",),
        timeout: float = 30,
        owner_pid: int | None = None,
    ) -> MailSystem:
        """Starts everything; returns once every service answers. `seeds` are local parts in
        seeds.test; mail to `junk_seeds` lands in their Junk folder. The daemons are stopped
        when `owner_pid` (default: this process) dies; 0 means no watchdog."""
        missing = missing_tools()
        if missing:
            raise ServerError(f"mail system programs missing: {', '.join(missing)}")
        if os.geteuid() != 0:
            raise ServerError("the mail system needs root (port 53, unshare, Postfix, Dovecot)")
        run_dir = Path(run_dir).resolve()
        if any((run_dir / "pids").glob("*.pid")):
            raise ServerError(f"{run_dir} holds a running mail system: mailsys/stop.sh {run_dir}")
        for sub in ("logs", "pids"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        state = _state_dir(run_dir)
        ports = _free_ports(11)
        system = cls(
            run_dir=run_dir,
            state_dir=state,
            zone_dir=state / "zones",
            ca_file=state / "tls" / "ca.crt",
            dns_server=Endpoint(IPV4_LOOPBACK, ports[0]),
            resolver_address=_free_resolver_address(),
            mx_port=ports[1],
            submission_port=ports[2],
            unsigned_port=ports[3],
            imap_port=ports[4],
            imaps_port=ports[5],
            lmtp_port=ports[6],
            sasl_port=ports[7],
            smtp_user="sender@sender.test",
            smtp_password=f"smtp-{secrets.token_hex(8)}",
            seeds=[
                Seed(
                    f"{name}@{SEED_DOMAIN}",
                    f"{name}-{secrets.token_hex(8)}",
                    "Junk" if name in junk_seeds else "INBOX",
                )
                for name in seeds
            ],
        )
        milters = {
            "DKIM_VERIFY_PORT": ports[8],
            "DKIM_SIGN_PORT": ports[9],
            "DMARC_PORT": ports[10],
        }
        try:
            system._write(milters)
            system._launch_all(os.getpid() if owner_pid is None else owner_pid)
            system._wait_ready(milters, timeout)
        except BaseException as exc:
            logs = _read_logs(run_dir)
            try:
                system.stop()
            except Exception as stop_error:  # reported with the start failure
                logs += f"\n(stop failed too: {stop_error})"
            if isinstance(exc, ServerError):
                raise ServerError(f"mail system did not start: {exc}\n{logs}") from None
            raise
        (run_dir / "handle.json").write_text(json.dumps(system.handle(), indent=2) + "\n")
        return system

    # -- files ------------------------------------------------------------------------------

    def _write(self, milter_ports: dict[str, int]) -> None:
        state = self.state_dir
        for sub in ("zones", "tls", "dkim", "opendmarc", "dovecot", "knot/db", "mail"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        values = {
            "STATE": str(state),
            "ZONE_DIR": str(self.zone_dir),
            "DNS_PORT": str(self.dns_port),
            "RESOLVER_ADDR": self.resolver_address,
            "AUTHSERV_ID": self.authserv_id,
            "SUBMIT_HOSTNAME": self.submit_hostname,
            "SELECTOR": self.dkim_selector,
            "MX_PORT": str(self.mx_port),
            "SUBMISSION_PORT": str(self.submission_port),
            "UNSIGNED_PORT": str(self.unsigned_port),
            "IMAP_PORT": str(self.imap_port),
            "IMAPS_PORT": str(self.imaps_port),
            "LMTP_PORT": str(self.lmtp_port),
            "SASL_PORT": str(self.sasl_port),
            "INSTANCE": f"audit-mailsys-{self.mx_port}",
            "ZONES": "\n".join(f'  - domain: "{z}."' for z in ZONES),
            "STUB_ZONES": "\n".join(
                f'stub-zone:\n    name: "{z}."\n    stub-addr: {IPV4_LOOPBACK}@{self.dns_port}'
                for z in ZONES
            ),
            "SEED_MAP": ", ".join(f"{s.address}=ok" for s in self.seeds),
            "JUNK_MAPS": _junk_maps(self.seeds),
            **{k: str(v) for k, v in milter_ports.items()},
        }
        values.update(self._write_keys())
        self._write_tls()
        for zone in ZONES:
            _render(f"zones/{zone}.zone", self.zone_dir / f"{zone}.zone", values)
        for name in (
            "knot.conf",
            "unbound.conf",
            "opendkim-verify.conf",
            "opendkim-sign.conf",
            "opendmarc.conf",
            "policyd-spf.conf",
            "dovecot.conf",
            "mx/main.cf",
            "mx/master.cf",
            "submit/main.cf",
            "submit/master.cf",
        ):
            _render(name, state / name, values)
        for instance in ("mx", "submit"):
            _postfix_dirs(state / instance)
        (state / "opendmarc" / "ignore.hosts").write_text("192.0.2.255\n")
        (state / "resolv.conf").write_text(
            f"# bind-mounted over /etc/resolv.conf for the milters only\n"
            f"nameserver {self.resolver_address}\noptions timeout:2 attempts:2\n"
        )
        users = state / "dovecot" / "users"
        lines = [f"{s.address}:{{PLAIN}}{s.password}::::::" for s in self.seeds]
        lines.append(f"{self.smtp_user}:{{PLAIN}}{self.smtp_password}::::::")
        users.write_text("\n".join(lines) + "\n")
        users.chmod(0o640)  # read by Dovecot's unprivileged auth process
        shutil.chown(users, "root", "dovecot")
        shutil.chown(state / "mail", "mail", "mail")

    def _write_keys(self) -> dict[str, str]:
        """The DKIM keys: good (in DNS, signs), broken-dns (in DNS), broken-sign (signs)."""
        keys = {name: _rsa() for name in ("good", "broken-dns", "broken-sign")}
        dkim = self.state_dir / "dkim"
        for name, key in keys.items():
            path = dkim / f"{name}.private"
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.TraditionalOpenSSL,
                    serialization.NoEncryption(),
                )
            )
            path.chmod(0o600)
        sel = self.dkim_selector
        (dkim / "keytable").write_text(
            f"good {self.good_domain}:{sel}:{dkim / 'good.private'}\n"
            f"broken {self.broken_domain}:{sel}:{dkim / 'broken-sign.private'}\n"
        )
        (dkim / "signingtable").write_text(
            f"*@{self.good_domain} good\n*@{self.broken_domain} broken\n"
        )
        return {"GOOD_DKIM": _dkim_txt(keys["good"]), "BROKEN_DKIM": _dkim_txt(keys["broken-dns"])}

    def _write_tls(self) -> None:
        ca = TestCA("audit mail system test CA")
        ca.write_ca(self.ca_file)
        names = {
            "mx": (self.mx_hostname, IPV4_LOOPBACK, "localhost"),
            "imap": (self.imap_hostname, IPV4_LOOPBACK, "localhost"),
            "submit": (self.submit_hostname, IPV4_LOOPBACK, "localhost"),
        }
        for stem, hostnames in names.items():
            ca.issue(*hostnames, key="ec").write(self.state_dir / "tls", stem)

    # -- processes --------------------------------------------------------------------------

    def _launch_all(self, owner_pid: int) -> None:
        state = self.state_dir
        if owner_pid:
            watchdog = subprocess.Popen(
                ["bash", str(TEMPLATES / "watchdog.sh"), str(owner_pid), str(self.run_dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            (self.run_dir / "watchdog.pid").write_text(f"{watchdog.pid}\n")
            self._procs["watchdog"] = watchdog
        self._launch("knot", ["knotd", "-c", str(state / "knot.conf")])
        self._launch(
            "opendkim-verify", ["opendkim", "-f", "-x", str(state / "opendkim-verify.conf")]
        )
        self._launch("opendkim-sign", ["opendkim", "-f", "-x", str(state / "opendkim-sign.conf")])
        self._launch(
            "opendmarc", ["opendmarc", "-f", "-c", str(state / "opendmarc.conf")], namespace=True
        )
        self._launch("dovecot", ["dovecot", "-F", "-c", str(state / "dovecot.conf")])
        # master -s: foreground, stdout kept (maillog_file = /dev/stdout); no postfix-script
        self._launch("postfix-mx", [POSTFIX_MASTER, "-s", "-c", str(state / "mx")], namespace=True)
        self._launch("postfix-submit", [POSTFIX_MASTER, "-s", "-c", str(state / "submit")])

    def _launch(self, name: str, argv: list[str], *, namespace: bool = False) -> None:
        if namespace:  # a private mount namespace where /etc/resolv.conf points at Knot
            mount = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'
            resolv = str(self.state_dir / "resolv.conf")
            argv = [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                mount,
                resolv,
                *argv,
            ]
        with open(self.log_dir / f"{name}.out", "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._procs[name] = proc
        (self.run_dir / "pids" / f"{name}.pid").write_text(f"{proc.pid}\n")

    def _wait_ready(self, milter_ports: dict[str, int], timeout: float) -> None:
        """Polls every service over TCP until it answers; fails when a daemon exits."""
        checks = {
            "knot": lambda: (
                _dns_ready(IPV4_LOOPBACK, self.dns_port) and _dns_ready(self.resolver_address, 53)
            ),
            "opendkim-verify": lambda: _tcp_open(milter_ports["DKIM_VERIFY_PORT"]),
            "opendkim-sign": lambda: _tcp_open(milter_ports["DKIM_SIGN_PORT"]),
            "opendmarc": lambda: _tcp_open(milter_ports["DMARC_PORT"]),
            "dovecot": lambda: (
                _banner(self.imap_port, b"* OK")
                and _banner(self.lmtp_port, b"220")
                and _tcp_open(self.imaps_port)
                and _tcp_open(self.sasl_port)
            ),
            "postfix-mx": lambda: _banner(self.mx_port, b"220"),
            "postfix-submit": lambda: (
                _banner(self.submission_port, b"220") and _banner(self.unsigned_port, b"220")
            ),
        }
        deadline = time.monotonic() + timeout
        while checks:
            for name in list(checks):
                proc = self._procs[name]
                if proc.poll() is not None:
                    raise ServerError(
                        f"{name} exited during start-up (exit code {proc.returncode})"
                    )
                if checks[name]():
                    del checks[name]
            if checks and time.monotonic() > deadline:
                raise ServerError(f"not ready within {timeout:g} s: {', '.join(checks)}")
            if checks:
                time.sleep(0.05)


# -- helpers ---------------------------------------------------------------------------------


def _state_dir(run_dir: Path) -> Path:
    """run_dir/state, unless other users cannot reach run_dir: then a new /tmp dir, linked."""
    link = run_dir / "state"
    if link.is_symlink():
        link.unlink()
    if _others_can_enter(run_dir):
        link.mkdir(exist_ok=True)
        link.chmod(0o755)
        return link
    state = Path(tempfile.mkdtemp(prefix="audit-mailsys-"))
    state.chmod(0o755)
    (state / TEMP_MARKER).write_text(f"{run_dir}\n")
    link.symlink_to(state)
    return state


def _others_can_enter(path: Path) -> bool:
    """Whether an unprivileged user can traverse every directory down to `path`."""
    return all(d.stat().st_mode & stat.S_IXOTH for d in (path, *path.parents))


def _junk_maps(seeds: list[Seed]) -> str:
    junk = [s.address for s in seeds if s.folder == "Junk"]
    if not junk:
        return ""
    return "inline:{ " + ", ".join(f"{a}={a.replace('@', '+Junk@')}" for a in junk) + " }"


def _render(name: str, target: Path, values: dict[str, str]) -> None:
    """TEMPLATES/NAME.in with every {{KEY}} replaced, written to `target`."""
    text = (TEMPLATES / f"{name}.in").read_text()
    text = re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: values[m.group(1)], text)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    # Postfix waits (0.3 s at a time, up to ~2 s) while a config file's mtime is "now": it
    # might still be being edited. A file written just now is dated back a minute.
    past = time.time() - 60
    os.utime(target, (past, past))


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _dkim_txt(key: rsa.RSAPrivateKey) -> str:
    """The TXT record data for a DKIM key, as 250-character strings."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    return " ".join(f'"{text[i : i + 250]}"' for i in range(0, len(text), 250))


# The queue directories `postfix check` would make (made here: postfix-script takes seconds).
_POSTFIX_QUEUES = {
    "active": 0o700,
    "bounce": 0o700,
    "corrupt": 0o700,
    "defer": 0o700,
    "deferred": 0o700,
    "flush": 0o700,
    "hold": 0o700,
    "incoming": 0o700,
    "private": 0o700,
    "saved": 0o700,
    "trace": 0o700,
    "maildrop": 0o730,
    "public": 0o710,
}


def _postfix_dirs(config_dir: Path) -> None:
    spool, data = config_dir / "spool", config_dir / "data"
    for name, mode in _POSTFIX_QUEUES.items():
        queue = spool / name
        queue.mkdir(parents=True, exist_ok=True)
        shutil.chown(queue, "postfix", "postdrop" if mode != 0o700 else "root")
        queue.chmod(mode)
    (spool / "pid").mkdir(exist_ok=True)
    spool.chmod(0o755)
    data.mkdir(exist_ok=True)
    shutil.chown(data, "postfix", "postfix")
    data.chmod(0o700)


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _free_resolver_address() -> str:
    """A 127.53.x.y address whose port 53 is free (UDP and TCP)."""
    rng = random.SystemRandom()
    for _ in range(50):
        address = f"127.53.{rng.randrange(1, 255)}.{rng.randrange(1, 255)}"
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as sock:
                    sock.bind((address, 53))
        except OSError:
            continue
        return address
    raise ServerError("no 127.53.x.y address with a free port 53")


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection((IPV4_LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


def _banner(port: int, prefix: bytes) -> bool:
    try:
        with socket.create_connection((IPV4_LOOPBACK, port), timeout=1) as sock:
            return sock.recv(200).startswith(prefix)
    except OSError:
        return False


def _dns_ready(host: str, port: int) -> bool:
    """Whether every zone answers its SOA over TCP."""
    try:
        for zone in ZONES:
            query = dns.message.make_query(f"{zone}.", "SOA")
            answer = dns.query.tcp(query, host, timeout=0.5, port=port)
            if answer.rcode() != dns.rcode.NOERROR or not answer.answer:
                return False
        return True
    except (OSError, dns.exception.DNSException):
        return False


def _read_logs(run_dir: Path, tail: int = 40) -> str:
    logs = sorted((run_dir / "logs").glob("*.out")) if (run_dir / "logs").is_dir() else []
    parts = []
    for log in logs:
        lines = log.read_text(errors="replace").splitlines()[-tail:]
        parts.append(f"--- {log} (last {len(lines)} lines)\n" + "\n".join(lines))
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    """`start RUN_DIR`: start (no watchdog), print the handle as JSON; `stop RUN_DIR`."""
    if len(argv) == 2 and argv[0] == "start":
        try:
            system = MailSystem.start(Path(argv[1]), owner_pid=0)
        except ServerError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(json.dumps(system.handle(), indent=2))
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        return subprocess.call(["bash", str(TEMPLATES / "stop.sh"), argv[1]])
    print("usage: python3 -m tests.infra.mail_system start|stop RUN_DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
