"""`audit esp list | show ID`: the ESP provider profiles detection and the sending-path checks
use, with the documentation each fact comes from. `--esp-profiles DIR` adds the user's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from audit.json_document import dumps, json_document

ESP_FORMATS = ("terminal", "json")


def esp_profiles_option(fn):
    """--esp-profiles DIR, shared by `audit esp` and `audit domain`."""
    return click.option(
        "--esp-profiles",
        "esp_profiles_dir",
        type=click.Path(path_type=Path),
        default=None,
        metavar="DIR",
        help="More ESP profiles: every *.toml in DIR adds a provider or replaces the built-in "
        "one with the same id (see 'audit esp show sendgrid' for the fields).",
    )(fn)


def load_or_fail(directory: Path | str | None):
    """The profiles (built-in plus DIR); a bad directory or file is bad input: one line, exit 2."""
    from audit.cli_common import BadInput
    from audit.esp.profiles import ProfileError, load_profiles

    try:
        return load_profiles(Path(directory) if directory is not None else None)
    except ProfileError as exc:
        raise BadInput(str(exc)) from None


def _format_option(fn):
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(ESP_FORMATS),
        default="terminal",
        show_default=True,
        help='Output format; json: {"schema_version", "profiles": [...]}.',
    )(fn)


@click.group()
def esp() -> None:
    """The email service provider profiles: what marks each provider in DNS and what it asks
    its customers to publish, with the documentation the facts come from."""


@esp.command("list")
@esp_profiles_option
@_format_option
def esp_list(esp_profiles_dir: Path | None, fmt: str) -> None:
    """One line per profile: id, name, and what it is detected by."""
    from reports.visible import visible

    profiles = load_or_fail(esp_profiles_dir)
    if fmt == "json":
        rows = [
            {"id": p.id, "name": p.name, "detected_by": p.detected_by(), "file": p.file}
            for p in profiles.values()
        ]
        click.echo(dumps(json_document("profiles", rows)), nl=False)
        return
    width = max((len(p.id) for p in profiles.values()), default=0)
    for profile in profiles.values():
        detected = "; ".join(profile.detected_by()) or "nothing in DNS"
        click.echo(visible(f"{profile.id:<{width}}  {profile.name}  ({detected})"))


@esp.command("show")
@click.argument("profile_id", metavar="ID")
@esp_profiles_option
@_format_option
def esp_show(profile_id: str, esp_profiles_dir: Path | None, fmt: str) -> None:
    """Every field of one profile, with its sources: audit esp show sendgrid."""
    from audit.cli_common import BadInput

    profiles = load_or_fail(esp_profiles_dir)
    profile = profiles.get(profile_id.strip().lower())
    if profile is None:
        raise BadInput(f"unknown ESP profile {profile_id!r} (known: {', '.join(profiles)})")
    if fmt == "json":
        click.echo(dumps(json_document("profiles", [profile.as_dict()])), nl=False)
        return
    click.echo(_show_text(profile.as_dict()), nl=False)


_LABELS = {
    "spf_includes": "SPF includes",
    "dkim_selectors": "DKIM selectors",
    "dkim_cname_patterns": "DKIM CNAME targets",
    "default_envelope_domains": "default envelope domains",
    "return_path": "custom return path",
    "signs_own_domain": "signs with its own d=",
    "mx_patterns": "MX hosts",
}


def _show_text(data: dict[str, Any]) -> str:
    from reports.visible import visible

    lines = [f"{data['id']}: {data['name']}"]
    for key, label in _LABELS.items():
        value = data[key]
        if key == "return_path":
            text = (
                "none offered"
                if value is None
                else f"{value['record_type']} at {', '.join(value['name_patterns'])} "
                f"-> {', '.join(value['target_patterns']) or '(any)'}"
            )
        elif key == "signs_own_domain":
            text = value or "no"
        elif key == "default_envelope_domains" and not value:
            text = "the customer's own domain"
        else:
            text = ", ".join(value) or "-"
        lines.append(f"  {label + ':':<27}{text}")
    lines.append("  sources:")
    lines += [f"    {url}" for url in data["sources"]]
    if data["notes"]:
        lines.append("  notes:")
        lines += [f"    {line}" for line in _wrap(data["notes"], 92)]
    lines.append(f"  file: {data['file']}")
    return visible("\n".join(lines) + "\n")


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(" ".join(text.split()), width) or [""]
