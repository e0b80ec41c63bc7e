"""Sending paths: the ways a domain's mail leaves (an ESP's API or relay, the domain's own MTA),
as declared by the user or detected from DNS.

A path is what decides what a receiver sees: the envelope sender (Return-Path) domain SPF is
checked for, the IPs that connect, the DKIM selector and d= that sign. How command-line flags
group into paths:
  * every `--esp NAME` is one path through that provider; `--return-path` and `--dkim-selector`
    belong to it (with several `--esp`, to each of them);
  * `--sending-ip`, `--helo` (and `--return-path`/`--dkim-selector` when no `--esp` is given)
    declare one "own MTA or relay" path; `--smtp-relay HOST:PORT` adds its submission relay.
A provider detected in DNS (detect_providers) is a path too, unless a declared path already
names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

OWN_PATH = "own-mta"


@dataclass(frozen=True)
class SendingPath:
    name: str
    origin: str  # declared | detected | config
    esp: str | None = None  # ESP profile id
    ips: tuple[str, ...] = ()
    helo: str | None = None
    return_path: str | None = None  # the envelope (MAIL FROM) domain the path uses
    dkim_selectors: tuple[str, ...] = ()
    smtp: str | None = None  # host:port of a submission relay
    evidence: tuple[str, ...] = field(default=())  # detected paths: the records they rest on

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "origin": self.origin,
            "esp": self.esp,
            "ips": list(self.ips),
            "helo": self.helo,
            "return_path": self.return_path,
            "dkim_selectors": list(self.dkim_selectors),
            "smtp": self.smtp,
            "evidence": list(self.evidence),
        }


def declared_paths(
    esps: Sequence[str] = (),
    *,
    return_path: str | None = None,
    ips: Sequence[str] = (),
    helo: str | None = None,
    dkim_selectors: Sequence[str] = (),
    smtp: str | None = None,
) -> list[SendingPath]:
    """The paths the command-line flags declare (see the module docstring for the grouping)."""
    paths = [
        SendingPath(
            esp,
            "declared",
            esp=esp,
            return_path=return_path,
            dkim_selectors=tuple(dkim_selectors),
        )
        for esp in dict.fromkeys(esps)
    ]
    if ips or helo or smtp or (not esps and return_path):
        paths.append(
            SendingPath(
                OWN_PATH,
                "declared",
                ips=tuple(dict.fromkeys(ips)),
                helo=helo,
                return_path=None if esps else return_path,
                dkim_selectors=() if esps else tuple(dkim_selectors),
                smtp=smtp,
            )
        )
    return paths


def with_detected(declared: Iterable[SendingPath], detections: Iterable[Any]) -> list[SendingPath]:
    """Declared paths first (a detected return path or DKIM selector fills what a declared path
    for the same provider left out), then one path per provider detected and not declared.

    `detections` are audit.esp.detect.Detection: profile_id, via (spf-include | dkim-cname |
    return-path-cname | return-path-mx | mx), name (the DNS name the record is at) and record.
    """
    found: dict[str, dict[str, Any]] = {}
    for d in detections:
        entry = found.setdefault(d.profile_id, {"evidence": [], "selectors": [], "rp": None})
        entry["evidence"].append(f"{d.name}: {d.record}")
        if d.via == "dkim-cname" and "._domainkey." in d.name:
            entry["selectors"].append(d.name.split("._domainkey.", 1)[0])
        elif d.via.startswith("return-path") and entry["rp"] is None:
            entry["rp"] = d.name
    paths = []
    for path in declared:
        seen = found.pop(path.esp, None) if path.esp else None
        if seen:
            path = replace(
                path,
                return_path=path.return_path or seen["rp"],
                dkim_selectors=path.dkim_selectors or tuple(dict.fromkeys(seen["selectors"])),
                evidence=tuple(seen["evidence"]),
            )
        paths.append(path)
    for esp, entry in found.items():
        paths.append(
            SendingPath(
                esp,
                "detected",
                esp=esp,
                return_path=entry["rp"],
                dkim_selectors=tuple(dict.fromkeys(entry["selectors"])),
                evidence=tuple(entry["evidence"]),
            )
        )
    return paths


def config_paths(tables: Iterable[Any], known_esps: Iterable[str]) -> list[SendingPath]:
    """The project config's `[[path]]` tables (audit.config.PathConfig) as paths; an `esp` no
    profile knows is a ValueError naming the path (the config loader checks syntax only)."""
    known = list(known_esps)
    paths = []
    for table in tables:
        if table.esp and table.esp not in known:
            raise ValueError(
                f"[[path]] {table.name!r}: esp {table.esp!r} is not a known provider "
                f"(known: {', '.join(known)})"
            )
        paths.append(
            SendingPath(
                table.name,
                "config",
                esp=table.esp,
                ips=tuple(table.ips),
                helo=table.helo,
                return_path=table.return_path,
                dkim_selectors=tuple(table.dkim_selectors),
                smtp=table.smtp,
            )
        )
    return paths
