"""DMARC aggregate report files as real reporters send them, for the report-analysis tests.

Formats follow RFC 7489 appendix C (and RFC 9990 for the dmarc-2.0 namespace), with the shapes
and quirks of the big reporters: Google (no namespace, a .zip named
`google.com!DOMAIN!BEGIN!END.zip`), Microsoft (xsd/xsi namespaces, `envelope_to`, a .xml.gz),
Yahoo (.xml.gz; rows without a DKIM result when the message was unsigned) and a DMARCbis
reporter (namespace, np, discovery_method). A row is a dict:
    {"ip": ..., "count": n, "dkim": "pass|fail", "spf": "pass|fail", "disposition": "none",
     "header_from": ..., "envelope_from": ..., "auth_dkim": [(d, result, selector)],
     "auth_spf": [(domain, result)], "override": "forwarded" | None}
"""

from __future__ import annotations

import gzip
import io
import zipfile
from xml.sax.saxutils import escape

NAMESPACES = {
    "google": "",
    "microsoft": ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    "yahoo": "",
    "dmarcbis": ' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"',
}
REPORTERS = {
    "google": ("google.com", "noreply-dmarc-support@google.com"),
    "microsoft": ("Outlook.com", "dmarcreport@microsoft.com"),
    "yahoo": ("Yahoo", "dmarchelp@yahooinc.com"),
    "dmarcbis": ("Sample Reporter", "reports@reporter.example"),
}


def aggregate_xml(
    style: str,
    domain: str,
    rows: list[dict],
    *,
    policy: str = "none",
    begin: int = 1764806400,  # 2025-12-04 00:00 UTC
    end: int = 1764892799,
    report_id: str = "r1",
    org_name: str | None = None,
) -> bytes:
    org, email = REPORTERS[style]
    org = org_name or org
    e = escape
    parts = [
        '<?xml version="1.0" encoding="UTF-8" ?>\n' if style != "dmarcbis" else "",
        f"<feedback{NAMESPACES[style]}>",
        "<version>1.0</version>" if style in ("microsoft", "dmarcbis") else "",
        f"<report_metadata><org_name>{e(org)}</org_name><email>{e(email)}</email>",
        f"<report_id>{e(report_id)}</report_id>",
        f"<date_range><begin>{begin}</begin><end>{end}</end></date_range></report_metadata>",
        f"<policy_published><domain>{e(domain)}</domain>",
        "" if style == "dmarcbis" else "<adkim>r</adkim><aspf>r</aspf>",
        f"<p>{policy}</p><sp>{policy}</sp>",
        "<np>none</np><testing>n</testing><discovery_method>treewalk</discovery_method>"
        if style == "dmarcbis"
        else "<pct>100</pct>",
        "<fo>0</fo>" if style == "microsoft" else "",
        "</policy_published>",
    ]
    for row in rows:
        override = row.get("override")
        parts += [
            "<record><row>",
            f"<source_ip>{e(row['ip'])}</source_ip><count>{row['count']}</count>",
            "<policy_evaluated>",
            f"<disposition>{row.get('disposition', 'none')}</disposition>",
            f"<dkim>{row['dkim']}</dkim><spf>{row['spf']}</spf>",
            f"<reason><type>{override}</type></reason>" if override else "",
            "</policy_evaluated></row><identifiers>",
            "<envelope_to>hotmail.com</envelope_to>" if style == "microsoft" else "",
            f"<envelope_from>{e(row.get('envelope_from', domain))}</envelope_from>"
            if style != "google"
            else "",
            f"<header_from>{e(row.get('header_from', domain))}</header_from>",
            "</identifiers><auth_results>",
        ]
        for d, result, selector in row.get("auth_dkim", []):
            if style == "yahoo" and result == "none":
                continue  # Yahoo leaves unsigned mail's DKIM out
            parts.append(
                f"<dkim><domain>{e(d)}</domain><result>{result}</result>"
                f"<selector>{e(selector)}</selector></dkim>"
            )
        for d, result in row.get("auth_spf", []):
            scope = "<scope>mfrom</scope>" if style in ("google", "microsoft") else ""
            parts.append(f"<spf><domain>{e(d)}</domain>{scope}<result>{result}</result></spf>")
        parts.append("</auth_results></record>")
    parts.append("</feedback>")
    return "".join(parts).encode()


def packaged(style: str, domain: str, xml: bytes, begin: int = 1764806400,
             end: int = 1764892799) -> tuple[str, bytes]:  # fmt: skip
    """(file name, bytes) as the reporter attaches it: Google zips, the others gzip."""
    org = REPORTERS[style][0].lower()
    stem = f"{org}!{domain}!{begin}!{end}"
    if style == "google":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"{stem}.xml", xml)
        return f"{stem}.zip", buf.getvalue()
    if style == "dmarcbis":
        return f"{stem}.xml", xml
    return f"{stem}.xml.gz", gzip.compress(xml)


def zip_bomb(megabytes: int = 60) -> bytes:
    """A small zip whose one member inflates to `megabytes` MiB of zeros."""
    buf = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with (
        zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("report.xml", "w") as member,
    ):
        for _ in range(megabytes):
            member.write(chunk)
    return buf.getvalue()


def entity_bomb() -> bytes:
    """XML with nested entity declarations (billion laughs), small on disk."""
    lines = ['<?xml version="1.0"?>', "<!DOCTYPE feedback [", '<!ENTITY a0 "lol">']
    for i in range(1, 10):
        lines.append(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">')
    lines += ["]>", "<feedback><report_metadata><org_name>&a9;</org_name></report_metadata>",
              "</feedback>"]  # fmt: skip
    return "\n".join(lines).encode()
