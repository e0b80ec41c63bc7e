"""A bare Dovecot on loopback for the IMAP collector tests: IMAP (STARTTLS) and IMAPS, no MTA.

Mail is put into folders with IMAP APPEND by the test itself, so the collector is tested on its
own; the full mail system (Postfix, milters, LMTP) is tests/infra/mail_system.py. Adapted from
/work/shared/reference/test-infra/dovecot.

    server = Dovecot.start({"seed@seeds.test": "seedpass"}, names=("imap.seeds.test",))
    ...  server.imap_port (STARTTLS), server.imaps_port, server.ca_file
    server.stop()

Dovecot runs as a foreground child with PR_SET_PDEATHSIG, so it goes when the test process dies
even if stop() never runs. The run directory lives in /tmp (not pytest's 0700 tmp tree): the
mail processes run as the system user "mail" and must reach the maildirs.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

try:  # as part of the tests package, or run from this directory
    from tests.infra.certs import TestCA
    from tests.infra.netutil import IPV4_LOOPBACK, free_port, retry_port_clash
except ImportError:  # pragma: no cover
    from certs import TestCA  # type: ignore[no-redef]
    from netutil import IPV4_LOOPBACK, free_port, retry_port_clash  # type: ignore[no-redef]

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {run}/base
state_dir = {run}/state
instance_name = {instance}
log_path = {run}/dovecot.log
hostname = imap.seeds.test
protocols = imap
listen = 127.0.0.1

ssl = yes
ssl_cert = <{run}/tls/imap.crt
ssl_key = <{run}/tls/imap.key
ssl_dh = </usr/share/dovecot/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0

first_valid_uid = {uid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:{run}/mail/%d/%n/Maildir

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {run}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {run}/users
  default_fields = uid={uid} gid={gid} home={run}/mail/%d/%n
}}

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Junk {{
    special_use = \\Junk
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  # A plain mailbox flagged \\All, standing in for Gmail's "[Gmail]/All Mail".
  mailbox "All Mail" {{
    special_use = \\All
    auto = subscribe
  }}
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
# No penalty delay for an address after failed logins: the tests fail one on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


class DovecotError(RuntimeError):
    """Dovecot did not start; the message carries its log."""


def dovecot_installed() -> bool:
    return Path(DOVECOT).exists() and Path("/usr/share/dovecot/dh.pem").exists()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Dovecot:
    """A running Dovecot: `host`, `imap_port` (STARTTLS offered), `imaps_port`, `ca_file`."""

    host = IPV4_LOOPBACK

    def __init__(self, run: Path, proc: subprocess.Popen, imap_port: int, imaps_port: int):
        self.run, self.proc = run, proc
        self.imap_port, self.imaps_port = imap_port, imaps_port
        self.ca_file = str(run / "tls" / "ca.pem")

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> Dovecot:
        """What _start_once does, again on fresh ports when one of those it chose was taken
        by another server before the daemon bound it (the log says "address already in use")."""
        return retry_port_clash(lambda: cls._start_once(*args, **kwargs))

    @classmethod
    def _start_once(
        cls,
        users: Mapping[str, str],
        *,
        names: tuple[str, ...] = ("imap.seeds.test",),
        ca: TestCA | None = None,
        timeout: float = 20,
    ) -> Dovecot:
        """Users are {address: password}; the certificate is for `names` and 127.0.0.1."""
        try:
            mail = pwd.getpwnam("mail")
        except KeyError:
            raise DovecotError("no system user 'mail' to own the test mailboxes") from None
        run = Path(tempfile.mkdtemp(prefix="audit-dovecot-"))
        run.chmod(0o755)
        try:
            (run / "mail").mkdir()
            os.chown(run / "mail", mail.pw_uid, grp.getgrnam("mail").gr_gid)
            ca = ca or TestCA()
            ca.write_ca(run / "tls" / "ca.pem")
            ca.issue(*names, IPV4_LOOPBACK).write(run / "tls", "imap")
            (run / "users").write_text(
                "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in users.items())
            )
            imap_port, imaps_port = free_port(), free_port()
            while imaps_port == imap_port:
                imaps_port = free_port()
            config = run / "dovecot.conf"
            config.write_text(
                CONFIG.format(
                    run=run,
                    instance=run.name,
                    uid=mail.pw_uid,
                    gid=mail.pw_gid,
                    imap_port=imap_port,
                    imaps_port=imaps_port,
                )
            )
            check = subprocess.run(
                [DOVECOT, "-c", str(config), "-n"], capture_output=True, text=True, timeout=timeout
            )
            if check.returncode != 0:
                raise DovecotError(f"bad Dovecot config:\n{check.stderr}")
            proc = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=(run / "stdout.log").open("wb"),
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        except BaseException:
            shutil.rmtree(run, ignore_errors=True)
            raise
        server = cls(run, proc, imap_port, imaps_port)
        try:
            server._wait_ready(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_ready(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection((self.host, self.imap_port), 0.5) as sock:
                    sock.settimeout(1)
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        logs = "".join(
            p.read_text(errors="replace")
            for p in (self.run / "stdout.log", self.run / "dovecot.log")
            if p.exists()
        )
        raise DovecotError(f"Dovecot did not start:\n{logs}")

    def stop(self) -> None:
        """Stops Dovecot (waits for it) and removes its run directory."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.run, ignore_errors=True)


@contextlib.contextmanager
def running_dovecot(users: Mapping[str, str]) -> Iterator[Dovecot]:
    """A Dovecot for a test module: skipped (failed in CI) when not installed, failed with its
    log when it does not start, stopped at the end."""
    from tests.infra.require import skip_or_fail

    if not dovecot_installed():
        skip_or_fail("Dovecot is not installed (apt-get install dovecot-imapd)")
    try:
        server = Dovecot.start(users)
    except DovecotError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
