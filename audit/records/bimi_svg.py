"""SVG Tiny Portable/Secure basics for BIMI logos (draft-svg-tiny-ps-abrotman). Pure: no I/O.

The logo is untrusted input, so it is parsed with expat directly and any DTD, entity
declaration or external entity is refused before it can expand (the defusedxml rules). Checked:
the root is `<svg>` in the SVG namespace with `baseProfile="tiny-ps"` and `version="1.2"`, a
`<title>`, no scripts, animation, multimedia or foreign content, no event handlers, no external
references, no `x=`/`y=` on the root, and at most 32 KiB. A square viewBox is advised, not
required.
"""

from __future__ import annotations

import re
import xml.parsers.expat
from dataclasses import dataclass, field
from typing import Any, NoReturn

MAX_LOGO_BYTES = 32 * 1024
SVG_NS = "http://www.w3.org/2000/svg"
_SEP = "\x1f"  # expat's namespace separator: never in a name or a URI
_FORBIDDEN = {
    "script",
    "foreignObject",
    "animate",
    "animateMotion",
    "animateColor",
    "animateTransform",
    "set",
    "audio",
    "video",
    "iframe",
    "handler",
    "listener",
    "discard",
}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class _Refused(Exception):
    """A construct we do not parse (DTD, entities): the logo is rejected, not expanded."""


@dataclass
class _Element:
    ns: str
    name: str
    attrs: dict[str, str]
    depth: int
    text: str = ""


@dataclass
class SvgReport:
    size: int
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    title: str | None = None
    base_profile: str | None = None
    version: str | None = None
    view_box: str | None = None

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "title": self.title,
            "baseProfile": self.base_profile,
            "version": self.version,
            "viewBox": self.view_box,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }


def _split(name: str) -> tuple[str, str]:
    ns, sep, local = name.rpartition(_SEP)
    return (ns, local) if sep else ("", name)


def _parse(data: bytes) -> list[_Element]:
    """Every element in document order with its depth; raises _Refused or ExpatError."""
    elements: list[_Element] = []
    stack: list[_Element] = []
    parser = xml.parsers.expat.ParserCreate(namespace_separator=_SEP)
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse_doctype(*_: object) -> None:
        raise _Refused("the file has a DOCTYPE/DTD: refused (entities could expand or fetch)")

    def refuse_entity(*_: object) -> NoReturn:
        raise _Refused("the file declares or references external entities: refused")

    def start(name: str, attrs: dict[str, str]) -> None:
        ns, local = _split(name)
        element = _Element(ns, local, attrs, len(stack))
        elements.append(element)
        stack.append(element)

    def end(_: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].text += data

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.Parse(data, True)
    return elements


def check_svg(
    data: bytes, *, truncated: bool = False, max_bytes: int = MAX_LOGO_BYTES
) -> SvgReport:
    """Judges a logo file. `truncated`: the fetch stopped at the size limit."""
    report = SvgReport(size=len(data))
    if truncated or len(data) > max_bytes:
        report.errors.append(f"the file is over {max_bytes // 1024} KiB (BIMI's limit)")
        return report
    if data[:2] == b"\x1f\x8b":
        report.errors.append("the file is gzip-compressed (SVGZ): BIMI wants plain SVG")
        return report
    try:
        elements = _parse(data)
    except _Refused as exc:
        report.errors.append(str(exc))
        return report
    except xml.parsers.expat.ExpatError as exc:
        report.errors.append(f"not well-formed XML: {exc}")
        return report
    root = elements[0]
    if (root.ns, root.name) != (SVG_NS, "svg"):
        shown = f"{{{root.ns}}}{root.name}" if root.ns else root.name
        report.errors.append(f"the root element is <{shown}>, not <svg> in the SVG namespace")
        return report
    _check_root(report, root)
    _check_title(report, elements)
    _check_content(report, elements)
    return report


def _check_root(report: SvgReport, root: _Element) -> None:
    report.base_profile = root.attrs.get("baseProfile")
    report.version = root.attrs.get("version")
    report.view_box = root.attrs.get("viewBox")
    if report.base_profile != "tiny-ps":
        report.errors.append(f'baseProfile is {report.base_profile!r}, not "tiny-ps"')
    if report.version != "1.2":
        report.errors.append(f'version is {report.version!r}, not "1.2"')
    for attr in ("x", "y"):
        if attr in root.attrs:
            report.errors.append(f"the root <svg> has {attr}= (SVG Tiny PS forbids it)")
    if report.view_box is None:
        report.warnings.append("no viewBox: the logo may not scale to a square")
        return
    numbers = _NUMBER.findall(report.view_box)
    if len(numbers) != 4:
        report.errors.append(f"viewBox {report.view_box!r} is not four numbers")
    elif float(numbers[2]) != float(numbers[3]):
        report.warnings.append(
            f"viewBox {report.view_box!r} is not square: receivers crop the logo to a square"
        )


def _check_title(report: SvgReport, elements: list[_Element]) -> None:
    titles = [e for e in elements if e.depth == 1 and (e.ns, e.name) == (SVG_NS, "title")]
    if not titles or not titles[0].text.strip():
        report.errors.append("no <title> as a child of <svg> (SVG Tiny PS requires one)")
    else:
        report.title = titles[0].text.strip()


def _check_content(report: SvgReport, elements: list[_Element]) -> None:
    forbidden = sorted({e.name for e in elements if e.name in _FORBIDDEN})
    for name in forbidden:
        report.errors.append(f"<{name}> is not allowed in SVG Tiny PS")
    handlers = sorted({_split(a)[1] for e in elements for a in e.attrs if a.startswith("on")})
    if handlers:
        report.errors.append("event handler attributes are not allowed: " + ", ".join(handlers))
    for element in elements:
        for name, value in element.attrs.items():
            if _split(name)[1] == "href" and not value.strip().startswith("#"):
                shown = value if len(value) <= 60 else value[:57] + "..."
                report.errors.append(
                    f"<{element.name}> refers to {shown!r}: external references are not allowed"
                )
    style = " ".join(e.text for e in elements if e.name == "style")
    style += " ".join(e.attrs.get("style", "") for e in elements)
    if re.search(r"url\(\s*['\"]?(?!#)", style) or "@import" in style:
        report.errors.append("a style loads an external resource (url(...) or @import)")
