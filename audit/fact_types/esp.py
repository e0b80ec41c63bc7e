"""The esp check's facts: each provider the domain's DNS shows, and the record it rests on."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EspDetection:
    """One provider seen in one record (`facts.providers[]` of the esp check)."""

    profile_id: str
    via: str  # spf-include | dkim-cname | return-path-cname | return-path-mx | mx
    name: str  # the DNS name of the record it rests on
    record: str  # that record verbatim
    detail: dict[str, str]  # e.g. {"selector": "s1"} or {"return_path": "em123.example.com"}
