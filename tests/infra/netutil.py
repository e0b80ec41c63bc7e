"""Loopback ports for the test servers: a free port, whether one is free, whether ::1 works.

Other engineers run the same servers on this machine at the same time, so a port found free can
be taken before a server binds it. Servers we write bind port 0 and report the port the kernel
gave them; daemons that take their ports from a config file (Knot, Postfix, Dovecot) are started
through `retry_port_clash`, which starts them again on fresh ports when one was taken meanwhile.
A port where nothing may listen is held by `refused_port`.

Used by tests/infra/servers.py and, as a command, by start_knot.sh:

    python3 netutil.py free-port        # prints a port free for UDP and TCP
    python3 netutil.py port-free PORT   # exit 0 when PORT is free, 1 when taken
    python3 netutil.py ipv6             # exit 0 when the IPv6 loopback (::1) can be bound

Standalone on purpose (stdlib only): the shell scripts run it by path.
"""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

IPV4_LOOPBACK = "127.0.0.1"
IPV6_LOOPBACK = "::1"


def ipv6_loopback() -> bool:
    """Whether ::1 can be bound here (containers often run without IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind((IPV6_LOOPBACK, 0))
        return True
    except OSError:
        return False


def _hosts() -> list[tuple[socket.AddressFamily, str]]:
    hosts = [(socket.AF_INET, IPV4_LOOPBACK)]
    if ipv6_loopback():
        hosts.append((socket.AF_INET6, IPV6_LOOPBACK))
    return hosts


def port_is_free(port: int) -> bool:
    """Free for UDP and TCP on 127.0.0.1 (and ::1 when it works).

    A plain bind fails against a socket bound with SO_REUSEPORT by another process (knotd), so
    a port a leftover Knot still holds reads as taken.
    """
    for family, host in _hosts():
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(family, kind) as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    return False
    return True


def free_port() -> int:
    """A port the kernel hands out that is free for UDP and TCP on every loopback we listen on."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((IPV4_LOOPBACK, 0))
            port = sock.getsockname()[1]
        if port_is_free(port):
            return port
    raise RuntimeError("no free port on the loopback interface")


_CLASH = re.compile(r"address already in use|EADDRINUSE|errno 98\b|cannot bind", re.IGNORECASE)
PORT_TAKEN_EXIT = 3  # start_knot.sh's exit status when its port was taken


def port_clash(text: str) -> bool:
    """Whether a server's error output says a port it was given is taken."""
    return bool(_CLASH.search(text))


def retry_port_clash(start: Callable[[], T], attempts: int = 5) -> T:
    """`start()` (which picks fresh ports each call) again when it failed because a port was
    taken between choosing and binding it; any other failure is raised at once."""
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except Exception as exc:
            if attempt == attempts or not port_clash(str(exc)):
                raise
    raise AssertionError("unreachable")


_HELD: list[socket.socket] = []


def refused_port() -> int:
    """A TCP port on 127.0.0.1 where connecting is refused for as long as this process runs: a
    socket is bound there but never listens, so no other server can take the port meanwhile."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((IPV4_LOOPBACK, 0))
    _HELD.append(sock)
    return int(sock.getsockname()[1])


def main(argv: list[str]) -> int:
    if argv == ["free-port"]:
        print(free_port())
        return 0
    if len(argv) == 2 and argv[0] == "port-free" and argv[1].isdigit():
        return 0 if port_is_free(int(argv[1])) else 1
    if argv == ["ipv6"]:
        return 0 if ipv6_loopback() else 1
    print("usage: netutil.py free-port | port-free PORT | ipv6", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
