"""Report files in, parsed reports out: bounded decompression, then parsedmarc.

Reports arrive from strangers (anyone can send to a rua= address), so every file is read under
limits before parsedmarc sees it: the compressed size, the decompressed size (a zip or gzip bomb
stops at the limit, it is never inflated whole), the number of zip members, and no XML DOCTYPE
(entity expansion; parsedmarc refuses it too). A file that breaks a limit or does not parse is
refused with its reason; the other files are still read.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 20 * 1024 * 1024  # one report file or attachment as stored
MAX_REPORT_BYTES = 50 * 1024 * 1024  # one report once decompressed
MAX_ZIP_MEMBERS = 20

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


class Refused(Exception):
    """A report that cannot be read; str() says why in one line."""


@dataclass
class ParsedReport:
    """One report as parsedmarc read it: `kind` aggregate | smtp_tls | failure."""

    kind: str
    source: str  # the file name (and member), or the mailbox message
    data: dict[str, Any]


@dataclass
class ReadResult:
    reports: list[ParsedReport] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)


def read_report_files(paths: Iterable[Path]) -> ReadResult:
    """Every file, each on its own: a bad one is refused and the rest still read."""
    result = ReadResult()
    for path in paths:
        try:
            raw = _read_bounded(path)
            if path.suffix.lower() == ".eml" or raw.lstrip()[:5].lower() in (b"from:", b"recei"):
                result.reports.append(parse_report_email(raw, str(path)))
                continue
            for source, text in _payloads(raw, str(path)):
                result.reports.append(parse_payload(text, source))
        except Refused as exc:
            result.refused.append((str(path), str(exc)))
    return result


def _read_bounded(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise Refused(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise Refused(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return raw


def _payloads(raw: bytes, source: str) -> list[tuple[str, str]]:
    """(source, XML/JSON text) for a plain, gzip or zip file, each within MAX_REPORT_BYTES."""
    if raw.startswith(_GZIP_MAGIC):
        return [(source, _text(_gunzip(raw), source))]
    if raw.startswith(_ZIP_MAGIC):
        return _unzip(raw, source)
    return [(source, _text(raw, source))]


def _gunzip(raw: bytes) -> bytes:
    """Inflate at most MAX_REPORT_BYTES (+1 to tell "too large"); a truncated stream is refused."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, MAX_REPORT_BYTES + 1)
    except zlib.error as exc:
        raise Refused(f"not a valid gzip file: {exc}") from None
    if len(out) > MAX_REPORT_BYTES:
        raise Refused(f"decompresses to more than {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
    if not inflater.eof:
        raise Refused("truncated gzip file")
    return out


def _unzip(raw: bytes, source: str) -> list[tuple[str, str]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Refused(f"not a valid zip file: {exc}") from None
    if not members:
        raise Refused("empty zip file")
    if len(members) > MAX_ZIP_MEMBERS:
        raise Refused(f"zip file with {len(members)} members (at most {MAX_ZIP_MEMBERS})")
    out = []
    total = 0
    for member in members:
        try:
            with archive.open(member) as handle:
                data = handle.read(MAX_REPORT_BYTES + 1 - total)
        except (zipfile.BadZipFile, ValueError, OSError, RuntimeError, EOFError) as exc:
            raise Refused(f"zip member {member.filename!r} unreadable: {exc}") from None
        total += len(data)
        if total > MAX_REPORT_BYTES:
            raise Refused(f"decompresses to more than {MAX_REPORT_BYTES // (1024 * 1024)} MiB")
        if data.startswith(_GZIP_MAGIC):
            data = _gunzip(data)
        out.append((f"{source}#{member.filename}", _text(data, source)))
    return out


def _text(data: bytes, source: str) -> str:
    head = data.lstrip()[:1]
    if head not in (b"<", b"{"):
        raise Refused("neither XML (aggregate) nor JSON (TLS-RPT) after decompression")
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise Refused("XML with a DOCTYPE or entity declarations (refused: entity expansion)")
    return data.decode("utf-8", errors="replace")


def parse_payload(text: str, source: str) -> ParsedReport:
    """One decompressed report through parsedmarc (offline: no DNS, no downloads)."""
    import parsedmarc

    try:
        if text.lstrip().startswith("{"):
            return ParsedReport(
                "smtp_tls", source, dict(parsedmarc.parse_smtp_tls_report_json(text))
            )
        report = parsedmarc.parse_aggregate_report_xml(text, offline=True)
    except Exception as exc:  # noqa: BLE001 - parsedmarc raises many types for bad input
        raise Refused(f"not a valid report: {_one_line(exc)}") from None
    return ParsedReport("aggregate", source, dict(report))


def parse_report_email(raw: bytes, source: str) -> ParsedReport:
    """A report as mailed to the rua/ruf address (the attachment, or a failure report)."""
    import parsedmarc

    if b"<!ENTITY" in raw.upper():
        raise Refused("XML with entity declarations (refused: entity expansion)")
    try:
        parsed = parsedmarc.parse_report_email(raw, offline=True)
    except Exception as exc:  # noqa: BLE001 - parsedmarc raises many types for bad input
        raise Refused(f"not a report message: {_one_line(exc)}") from None
    return ParsedReport(str(parsed["report_type"]), source, dict(parsed["report"]))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] if text else type(exc).__name__
