"""Every DKIM-Signature on the message, verified the way a receiver does (RFC 6376 section 6).

Results (RFC 8601 2.7.1 words, RFC 6376 6.1 order):
  permerror  the signature cannot be used. Its tags are wrong (6.1.1: a required tag missing,
             From not in h=, expired x=, t= in the future, rsa-sha1 (RFC 8301 3.1)) or its key
             is (6.1.2: no key, revoked, unparseable, wrong type, RSA under 1024 bits).
  temperror  the key lookup timed out or SERVFAILed: unknown, never "no key".
  fail       the key is usable but the body hash or the header signature does not verify (6.1.3).
  pass       the signature verifies.
dkimpy does the cryptography, with keys from our resolver (audit.message.dkim_dns) and on our
clock; the body hash, the tag checks and the key checks are done here so every signature gets
all its facts filled, even one dkimpy would refuse before looking at it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dkim
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.crypto import HASH_ALGORITHMS
from dkim.util import InvalidTagValueList, parse_tag_value

from audit.checks.common import temperror_finding
from audit.checks.message.verdicts import DkimVerdict
from audit.message.addresses import from_domains
from audit.message.dkim_dns import (
    KeyLookups,
    dkim_clock,
    header_fields,
    key_name,
    key_record,
    prefetch_keys,
)
from audit.message.dkim_verify import Dkim
from audit.model import CheckResult, Finding, Severity, Status
from audit.net.dns import DnsStatus
from audit.records.dkim_key import DkimKey, parse_dkim_key
from audit.rules.dkim_message import (
    DKIM_FROM_NOT_OVERSIGNED,
    DKIM_FROM_NOT_SIGNED,
    DKIM_PARTIAL_BODY,
    DKIM_SIGNATURE_EXPIRED,
    DKIM_SIGNATURE_INVALID,
    DKIM_SIGNATURE_MISSING,
    DKIM_WEAK_KEY_IN_SIGNATURE,
)

if TYPE_CHECKING:
    from audit.checks.message.context import MessageContext

MAX_SIGNATURES = 20  # verified per message; more is abuse, not mail
CLOCK_SLOP = 36000  # seconds of t= in the future tolerated (dkimpy's 10 hours of clock drift)
REQUIRED_TAGS = ("v", "a", "b", "bh", "d", "h", "s")
# Up to this size a message is verified on the event loop: hashing it takes less time than
# handing it to a thread and back (the RSA step holds the GIL either way).
INLINE_BYTES = 128 * 1024
ALGORITHMS = ("rsa-sha256", "ed25519-sha256", "rsa-sha1")

# Reason openings the check turns into findings and fixes.
BODY_HASH_BAD = "body hash did not verify"
SIGNATURE_BAD = "signature did not verify"
FROM_NOT_SIGNED = "From is not signed"
EXPIRED = "signature expired"
NO_KEY = "no key for"
KEY_REVOKED = "key revoked"
KEY_INVALID = "key record"
KEY_TOO_SHORT = "RSA key too short"
SHA1 = "rsa-sha1 is not acceptable"
NOT_VERIFIED = "not verified:"
LENGTH_OVER_BODY = "l= is larger than the body"


# --------------------------------------------------------------------------- shared getters


async def key_lookups(ctx: MessageContext) -> KeyLookups:
    """The keys of every DKIM and ARC signature on the message, asked once, concurrently."""
    return await ctx.shared("dkim-keys", lambda: prefetch_keys(ctx.resolver, ctx.raw))


async def dkim_verdicts(ctx: MessageContext) -> list[DkimVerdict]:
    """One verdict per DKIM-Signature header, topmost first (computed once per message)."""
    return await ctx.shared("dkim", lambda: _verify(ctx))


async def _verify(ctx: MessageContext) -> list[DkimVerdict]:
    lookups = await key_lookups(ctx)
    if len(ctx.raw) <= INLINE_BYTES:
        return verify_signatures(ctx.raw, lookups, ctx.now)
    # Hashing a large body is CPU work: keep it off the event loop the other checks share.
    return await asyncio.to_thread(verify_signatures, ctx.raw, lookups, ctx.now)


# --------------------------------------------------------------------------- verification


def verify_signatures(raw: bytes, lookups: KeyLookups, now: datetime) -> list[DkimVerdict]:
    """Verify every DKIM-Signature of `raw` with keys from `lookups`, at time `now`."""
    parsed: Dkim | None
    try:
        parsed = Dkim(raw, minkey=1024)
        headers = [(bytes(n), bytes(v)) for n, v in parsed.headers]
        parse_error = None
    except Exception as exc:  # noqa: BLE001 - dkimpy's parser raises on junk; judge, never crash
        parsed, headers = None, header_fields(raw)
        parse_error = f"{type(exc).__name__}: {exc}"[:200]
    signatures = [value for name, value in headers if name.lower() == b"dkim-signature"]
    from_count = sum(1 for name, _ in headers if name.lower() == b"from")
    verdicts = []
    for index, value in enumerate(signatures[:MAX_SIGNATURES]):
        try:
            verdict = _verify_one(index, value, parsed, parse_error, from_count, lookups, now)
        except Exception as exc:  # noqa: BLE001 - one odd signature must not hide the others
            verdict = _new_verdict(index, value)
            verdict.reason = f"could not be verified ({type(exc).__name__}: {exc})"[:300]
        verdicts.append(verdict)
    if len(signatures) > MAX_SIGNATURES:
        # one verdict for all the rest, not one each: 10,000 headers must not make 10,000 entries
        rest = len(signatures) - MAX_SIGNATURES
        verdict = _new_verdict(MAX_SIGNATURES, signatures[MAX_SIGNATURES])
        verdict.result = "neutral"
        verdict.reason = (
            f"{NOT_VERIFIED} {rest} more DKIM-Signature headers (from index {MAX_SIGNATURES} "
            f"on); only the first {MAX_SIGNATURES} signatures are verified"
        )
        verdict.header = verdict.header[:300]
        verdicts.append(verdict)
    return verdicts


def _new_verdict(index: int, value: bytes) -> DkimVerdict:
    header = ("DKIM-Signature:" + value.decode("utf-8", errors="replace")).rstrip()
    return DkimVerdict(index, "permerror", "", header=header)


def _text(tags: dict[bytes, bytes], tag: str) -> str | None:
    value = tags.get(tag.encode())
    if value is None:
        return None
    return re.sub(rb"\s+", b"", value).decode("utf-8", errors="replace")


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() and len(text) <= 20 else None


def _when(timestamp: int) -> str:
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(timestamp)


def _verify_one(
    index: int,
    value: bytes,
    parsed: Dkim | None,
    parse_error: str | None,
    from_count: int,
    lookups: KeyLookups,
    now: datetime,
) -> DkimVerdict:
    v = _new_verdict(index, value)
    try:
        tags = parse_tag_value(value)
    except InvalidTagValueList as exc:
        detail = exc.args[0] if exc.args else b""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", errors="replace")
        v.reason = f"the DKIM-Signature tag list does not parse (at {str(detail).strip()!r})"
        return v

    now_ts = int(now.timestamp())
    _read_tags(v, tags, from_count, now_ts)

    tag_error = _tag_error(tags, v, now_ts)
    key_error, key_temperror = _check_key(v, lookups)
    body_hash_error = None
    if parsed is not None and _usable_tags(tags, v):
        body_hash_error = _body_hash(v, tags, parsed)

    crypto_ok, crypto_error = None, None
    if parsed is not None and key_error is None and not key_temperror and v.body_hash_ok:
        crypto_ok, crypto_error = _crypto(parsed, index, lookups, now)

    if parse_error is not None:
        v.result = "permerror"
        v.reason = f"the message's header section does not parse ({parse_error})"
    elif tag_error is not None:
        v.result = "permerror"
        v.reason = tag_error
        if tag_error.startswith((FROM_NOT_SIGNED, SHA1)) and crypto_ok is not None:
            v.reason += (
                " (the signature itself verifies)"
                if crypto_ok
                else " (and the signature does not verify either)"
            )
    else:
        _decide(v, body_hash_error, key_temperror, key_error, crypto_ok, crypto_error)
    return v


def _read_tags(v: DkimVerdict, tags: dict[bytes, bytes], from_count: int, now_ts: int) -> None:
    """The signature's tags into the verdict, as written (judged later)."""
    v.domain = (_text(tags, "d") or "").lower() or None
    v.selector = _text(tags, "s") or None
    v.algorithm = (_text(tags, "a") or "").lower() or None
    v.canonicalization = (_text(tags, "c") or "").lower() or None
    v.identity = _text(tags, "i")
    raw_h = tags.get(b"h")
    if raw_h is not None:
        v.signed_headers = [
            h.decode("utf-8", errors="replace").lower()
            for h in re.split(rb"\s*:\s*", raw_h.strip())
            if h
        ]
    v.body_length = _number(_text(tags, "l"))
    v.timestamp = _number(_text(tags, "t"))
    v.expiration = _number(_text(tags, "x"))
    v.from_signed = "from" in v.signed_headers
    v.from_oversigned = v.signed_headers.count("from") > from_count
    v.expired = v.expiration is not None and v.expiration < now_ts


def _decide(
    v: DkimVerdict,
    body_hash_error: str | None,
    key_temperror: str | None,
    key_error: str | None,
    crypto_ok: bool | None,
    crypto_error: str | None,
) -> None:
    """The result of a signature whose header section and tags are usable: the first problem
    in the order body-hash error, key temperror, key error, body changed, signature error;
    else pass, or fail because a signed header changed."""
    if body_hash_error is not None:
        v.result, v.reason = "permerror", body_hash_error
    elif key_temperror is not None:
        v.result, v.reason = "temperror", key_temperror
    elif key_error is not None:
        v.result, v.reason = "permerror", key_error
    elif v.body_hash_ok is False:
        v.result = "fail"
        v.reason = f"{BODY_HASH_BAD}: the body was changed after signing"
        if v.body_length is not None:
            v.reason += f" (within the first l={v.body_length} bytes)"
    elif crypto_error is not None:
        v.result, v.reason = "permerror", crypto_error
    elif crypto_ok:
        v.result = "pass"
        v.reason = (
            f"signature verifies with the key at {key_name(v.selector or '', v.domain or '')}"
        )
    else:
        v.result = "fail"
        v.reason = (
            f"{SIGNATURE_BAD}: the body is intact, so a signed header "
            f"({', '.join(dict.fromkeys(v.signed_headers))}) was changed or added after signing"
        )


def _usable_tags(tags: dict[bytes, bytes], v: DkimVerdict) -> bool:
    """Enough tags to hash the body, even on a signature we will not accept."""
    return b"bh" in tags and v.algorithm in ALGORITHMS


def _tag_error(tags: dict[bytes, bytes], v: DkimVerdict, now: int) -> str | None:
    """RFC 6376 6.1.1 (and RFC 8301 3.1): a reason to ignore the signature, or None."""
    missing = [t for t in REQUIRED_TAGS if t.encode() not in tags]
    if missing:
        return "required tag " + ", ".join(f"{t}=" for t in missing) + " missing"
    if _text(tags, "v") != "1":
        return f"v={_text(tags, 'v')} is not a DKIM version this verifier knows (v=1)"
    if v.algorithm not in ALGORITHMS:
        return f"unknown signing algorithm a={v.algorithm}"
    try:
        CanonicalizationPolicy.from_c_value((v.canonicalization or "simple/simple").encode())
    except InvalidCanonicalizationPolicyError:
        return f"unknown canonicalization c={v.canonicalization}"
    q = _text(tags, "q")
    if q is not None and q.lower() != "dns/txt":
        return f"unknown key query method q={q}"
    for tag, number in (("l", v.body_length), ("t", v.timestamp), ("x", v.expiration)):
        if tags.get(tag.encode()) is not None and number is None:
            return f"{tag}= is not a decimal number ({_text(tags, tag)})"
    if not v.domain or not v.selector:
        return "empty d= or s="
    if v.identity is not None:
        i_domain = v.identity.rsplit("@", 1)[-1].lower().rstrip(".")
        if "@" not in v.identity or not (i_domain == v.domain or i_domain.endswith("." + v.domain)):
            return f"i={v.identity} is not in d={v.domain} or a subdomain of it"
    if not v.from_signed:
        return (
            f"{FROM_NOT_SIGNED}: h= ({':'.join(v.signed_headers)}) does not include From, so "
            "receivers must ignore this signature (RFC 6376 5.4)"
        )
    if v.timestamp is not None and v.expiration is not None and v.expiration < v.timestamp:
        return f"x={v.expiration} is before t={v.timestamp}"
    if v.timestamp is not None and v.timestamp > now + CLOCK_SLOP:
        return f"t= ({_when(v.timestamp)}) is in the future"
    if v.expired and v.expiration is not None:
        return (
            f"{EXPIRED} at {_when(v.expiration)} (x={v.expiration}), before the verification "
            f"time {_when(now)}"
        )
    if v.algorithm == "rsa-sha1":
        return f"{SHA1}: verifiers must not accept rsa-sha1 signatures (RFC 8301 3.1)"
    return None


def _check_key(v: DkimVerdict, lookups: KeyLookups) -> tuple[str | None, str | None]:
    """RFC 6376 6.1.2: (a reason the key cannot be used, a temperror reason); fills key facts."""
    if not v.domain or not v.selector:
        return "no d=/s= to look the key up with", None
    name = key_name(v.selector, v.domain)
    answer = lookups.answer(name)
    if answer is None:
        return None, f"key {name} was not looked up (too many signatures on the message)"
    if answer.temperror:
        return None, f"key lookup {answer.describe()}: the result is unknown"
    record = key_record(answer) if answer.status is DnsStatus.NOERROR else None
    if record is None:
        return f"{NO_KEY} {v.selector}._domainkey.{v.domain} ({answer.status.value})", None
    key = _parsed_key(record)
    if key.revoked:
        return f"{KEY_REVOKED}: {name} publishes an empty p= (RFC 6376 3.6.1)", None
    if key.errors:
        return f"{KEY_INVALID} at {name} cannot be used: {'; '.join(key.errors)}"[:300], None
    v.key_type, v.key_bits = key.key_type, key.key_bits
    wanted = "ed25519" if (v.algorithm or "").startswith("ed25519") else "rsa"
    if v.key_type != wanted:
        return (
            f"{KEY_INVALID} at {name} is k={v.key_type}, but the signature is a={v.algorithm}",
            None,
        )
    digest = (v.algorithm or "").split("-")[-1]
    if key.hash_algorithms and digest not in [h.lower() for h in key.hash_algorithms]:
        return f"{KEY_INVALID} at {name} allows only h={':'.join(key.hash_algorithms)}", None
    i_domain = (v.identity or "").rsplit("@", 1)[-1].lower()
    if key.strict and v.identity is not None and i_domain != v.domain:
        return f"{KEY_INVALID} at {name} has t=s but i= is a subdomain of d=", None
    if v.key_type == "rsa" and v.key_bits is not None and v.key_bits < 1024:
        return f"{KEY_TOO_SHORT}: {v.key_bits} bits at {name} (RFC 8301 requires 1024+)", None
    return None, None


@functools.lru_cache(maxsize=256)  # one sender's messages share a key: parse it once (read-only)
def _parsed_key(record: bytes) -> DkimKey:
    return parse_dkim_key(record.decode("utf-8", errors="replace"))


def _body_hash(v: DkimVerdict, tags: dict[bytes, bytes], parsed: Dkim) -> str | None:
    """Recompute the body hash (RFC 6376 3.7) so "body changed" is told from "header changed"."""
    try:
        policy = CanonicalizationPolicy.from_c_value(
            (v.canonicalization or "simple/simple").encode()
        )
        given = base64.b64decode(re.sub(rb"\s+", b"", tags[b"bh"]), validate=True)
    except (InvalidCanonicalizationPolicyError, binascii.Error, ValueError):
        return "bh= is not valid base64"
    body = parsed.canonical_body(policy)
    if v.body_length is not None and v.body_length > len(body):
        # RFC 6376 3.5: l= "MUST NOT be larger than the actual number of octets in the
        # canonicalized message body". Such a signature does not describe this body: it is
        # malformed (permerror), as OpenDKIM fails it, whatever the hash says.
        return (
            f"{LENGTH_OVER_BODY}: l={v.body_length} but the canonicalized body has "
            f"{len(body)} octets (RFC 6376 3.5)"
        )
    hasher = HASH_ALGORITHMS[(v.algorithm or "").encode()]
    v.body_hash_ok = parsed.body_digest(policy, v.body_length, hasher) == given
    return None


def _crypto(
    parsed: Dkim, index: int, lookups: KeyLookups, now: datetime
) -> tuple[bool | None, str | None]:
    """dkimpy's verdict on the header signature: (verifies, or an error that stopped it)."""
    dnsfunc = lookups.dnsfunc()
    try:
        with dkim_clock(now):
            ok = bool(parsed.verify(idx=index, dnsfunc=dnsfunc))
    except dkim.ValidationError as exc:
        return None, f"dkimpy rejects the signature: {exc}"[:300]
    except dkim.DKIMException as exc:
        return None, f"{KEY_INVALID} cannot be used: {exc}"[:300]
    if dnsfunc.temperrors or dnsfunc.unknown:
        return None, "key lookup failed during verification"
    return ok, None


# --------------------------------------------------------------------------- the check


def signature_target(v: DkimVerdict) -> str:
    return f"DKIM-Signature[{v.index}] d={v.domain or '?'} s={v.selector or '?'}"


async def check(ctx: MessageContext) -> CheckResult:
    verdicts = await ctx.dkim_verdicts()
    lookups = await key_lookups(ctx)
    facts = {"dkim": [v.to_dict() for v in verdicts]}
    domains = from_domains(ctx.message)
    from_domain = domains[0] if len(domains) == 1 else None
    if not verdicts:
        signer = from_domain or "<your From domain>"
        return CheckResult(
            facts=facts,
            findings=[
                Finding(
                    DKIM_SIGNATURE_MISSING,
                    ctx.name,
                    message="the message carries no DKIM-Signature: DMARC can only pass through "
                    "SPF, which forwarding breaks, and Gmail and Yahoo require DKIM from bulk "
                    "senders",
                    evidence=[f"From domain: {from_domain or 'none found'}"],
                    fix=f"Sign every message with d={signer}: generate a 2048-bit key, publish "
                    f'<selector>._domainkey.{signer} TXT "v=DKIM1; k=rsa; p=<public key>" and '
                    "turn on signing in your MTA (e.g. OpenDKIM) or your sending service.",
                )
            ],
        )
    findings: list[Finding] = []
    status = Status.COMPLETED
    any_pass = any(v.passed for v in verdicts)
    for v in verdicts:
        target = signature_target(v)
        evidence = [v.header[:600]]
        if v.result == "temperror":
            answer = lookups.answer(key_name(v.selector or "", v.domain or ""))
            status = Status.INCONCLUSIVE
            if answer is not None and answer.temperror:
                findings.append(
                    temperror_finding(
                        answer, target, "this signature's result is unknown (temperror)"
                    )
                )
        elif v.result != "pass":
            findings.append(_failure_finding(v, target, evidence, any_pass))
        if v.body_length is not None and not v.reason.startswith(LENGTH_OVER_BODY):
            findings.append(_partial_body_finding(ctx.raw, v, target, evidence))
        if v.passed and v.key_type == "rsa" and v.key_bits is not None and v.key_bits < 2048:
            findings.append(
                Finding(
                    DKIM_WEAK_KEY_IN_SIGNATURE,
                    target,
                    message=f"d={v.domain} signs with a {v.key_bits}-bit RSA key: keys under "
                    "2048 bits can be factored by a determined attacker (RFC 8301 3.2)",
                    evidence=evidence + [f"key {key_name(v.selector or '', v.domain or '')}"],
                    fix=f"Generate a 2048-bit key, publish it under a new selector at "
                    f"<new-selector>._domainkey.{v.domain}, switch signing to it, then revoke "
                    f"{v.selector} (publish an empty p=).",
                )
            )
        if v.passed and v.from_signed and not v.from_oversigned:
            h = ":".join(v.signed_headers)
            findings.append(
                Finding(
                    DKIM_FROM_NOT_OVERSIGNED,
                    target,
                    message=f"d={v.domain} signs From only as often as the message has From "
                    "headers: a second From could be added above it without breaking the "
                    "signature, and some clients show the added one",
                    evidence=evidence,
                    fix=f"List from once more in h= than the message has From headers, e.g. "
                    f"h=from:{h} (OpenDKIM: OversignHeaders From).",
                )
            )
    return CheckResult(facts=facts, findings=findings, status=status)


def _failure_finding(v: DkimVerdict, target: str, evidence: list[str], any_pass: bool) -> Finding:
    severity = Severity.MEDIUM if any_pass else None  # another signature still authenticates
    if v.reason.startswith(NOT_VERIFIED):  # the one verdict standing for every signature past
        return Finding(  # the cap (verify_signatures): one finding for them all
            DKIM_SIGNATURE_INVALID,
            f"DKIM-Signature[{v.index}...]",
            message=f"DKIM {v.result}: {v.reason}",
            evidence=evidence,
            fix="Sign each message once per signing domain (two or three signatures at most); "
            "receivers treat a message carrying dozens of signatures as abuse.",
            severity=severity,
        )
    if v.reason.startswith(FROM_NOT_SIGNED):
        h = ":".join(v.signed_headers)
        return Finding(
            DKIM_FROM_NOT_SIGNED,
            target,
            message=f"d={v.domain} does not sign From: {v.reason}",
            evidence=evidence,
            fix=f"Add from to the signed headers, e.g. h=from:from:{h} (sign From, and once "
            "more to block an added From).",
            severity=severity,
        )
    if v.expired and v.reason.startswith(EXPIRED):
        return Finding(
            DKIM_SIGNATURE_EXPIRED,
            target,
            message=f"d={v.domain}: {v.reason}",
            evidence=evidence,
            fix="Drop x= from your signing configuration, or allow days, not minutes, "
            "between t= and x= (messages can sit in queues and be re-verified later).",
            severity=severity,
        )
    return Finding(
        DKIM_SIGNATURE_INVALID,
        target,
        message=f"DKIM {v.result} for d={v.domain} s={v.selector}: {v.reason}",
        evidence=evidence,
        fix=_failure_fix(v),
        severity=severity,
    )


def _failure_fix(v: DkimVerdict) -> str:
    name = key_name(v.selector or "", v.domain or "")
    if v.reason.startswith(LENGTH_OVER_BODY):
        return (
            "Remove the l= tag from your signing configuration (OpenDKIM: BodyLengthDB off) so "
            "the whole body is signed; if l= is kept, it must count the canonicalized body the "
            "signer hashed, never more. If a hop cuts the body after signing, sign after it."
        )
    if v.reason.startswith(BODY_HASH_BAD):
        return (
            "Find what rewrites the body after signing (a footer or disclaimer added by a "
            "gateway or list, a Content-Transfer-Encoding conversion, line-ending changes) and "
            "sign after it, or sign with c=relaxed/relaxed to survive whitespace changes."
        )
    if v.reason.startswith(SIGNATURE_BAD):
        return (
            "Find the hop that rewrites a signed header (Subject tags, address rewriting, "
            "re-folding) and sign after it, or use c=relaxed/relaxed; compare the signed "
            f"headers ({', '.join(dict.fromkeys(v.signed_headers))}) with what was sent."
        )
    if v.reason.startswith(NO_KEY):
        return (
            f'Publish the public key: {name} TXT "v=DKIM1; k={v.key_type or "rsa"}; '
            'p=<the public half of the key the signer uses>", or sign with a selector that '
            "is published."
        )
    if v.reason.startswith(KEY_REVOKED):
        return f"Sign with an active selector, or publish a new key at {name}."
    if v.reason.startswith(KEY_TOO_SHORT):
        return f"Publish a 2048-bit RSA key at a new selector of {v.domain} and sign with it."
    if v.reason.startswith(KEY_INVALID):
        return f'Republish {name} as TXT "v=DKIM1; k=rsa; p=<base64 public key>" (one record).'
    if v.reason.startswith(SHA1):
        return "Sign with a=rsa-sha256 (or ed25519-sha256 alongside an RSA signature)."
    return "Fix the signer's configuration so it emits a valid DKIM-Signature (RFC 6376 3.5)."


def _partial_body_finding(raw: bytes, v: DkimVerdict, target: str, evidence: list[str]) -> Finding:
    tail = _unsigned_tail(raw, v)
    after = (
        f"; this message has {tail} bytes after the signed part"
        if tail
        else "; nothing follows the signed part in this message"
        if tail == 0
        else ""
    )
    return Finding(
        DKIM_PARTIAL_BODY,
        target,
        message=f"d={v.domain} signs only the first l={v.body_length} bytes of the body: "
        f"anyone can append text (a phishing link) and the signature still verifies{after}",
        evidence=evidence,
        fix="Remove the l= tag from your signing configuration so the whole body is signed "
        "(OpenDKIM: BodyLengthDB off).",
        severity=Severity.HIGH if tail else None,
    )


def _unsigned_tail(raw: bytes, v: DkimVerdict) -> int | None:
    """How many canonicalized body bytes follow the l= bytes the signature covers."""
    try:
        body = dkim.DKIM(raw).body
        policy = CanonicalizationPolicy.from_c_value(
            (v.canonicalization or "simple/simple").encode()
        )
        return max(len(policy.canonicalize_body(body)) - (v.body_length or 0), 0)
    except Exception:  # noqa: BLE001 - a fact we can do without
        return None
