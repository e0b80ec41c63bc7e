"""dkimpy's DKIM and ARC verification with the RSA step done by OpenSSL (`cryptography`).

dkimpy verifies RSA signatures in pure Python (its own ASN.1 parser, `pow` on Python ints, a
byte-by-byte int2str): over half its verification time. `Dkim` and `Arc` are dkimpy's classes
with its two verification hooks overridden (`verify_sig`, `verify_sig_process`); everything
else (tag checks, header selection and canonicalisation, l=, ed25519 through PyNaCl, the
minimum key size, the tlsrpt service rules, the errors raised and logged) is dkimpy's own code
path, so the verdicts are the same:

* RSASSA-PKCS1-v1_5 (RFC 8017 8.2.2), as dkimpy computes it: the signature is read as an
  integer of any length (dkimpy's str2int; `pow` reduces it modulo n), and the recovered block
  must equal EMSA-PKCS1-v1_5(DigestInfo with NULL parameters) exactly. OpenSSL's check is the
  same comparison for SHA-1 and SHA-256 once the signature is that integer modulo n written on
  the modulus' length, which is what it is given. Keys OpenSSL would refuse where dkimpy does
  not (an even modulus or exponent, e < 3, e >= n, over 16,384 bits, or e over 64 bits on a
  modulus over 3,072 bits) and keys under 1,024 bits (dkimpy's DigestTooLargeError path) go to
  dkimpy's own function.
* A key record is parsed (dkimpy's evaluate_pk) once per process: one sender's messages share
  a key. dkimpy's `dnsfunc` is still called for every signature (it records what was asked).
* The canonicalised body hash is computed once per (body canonicalisation, l=, hash) and
  message: the DKIM check hashes the body to tell "body changed" from "header changed"
  (`body_digest`), and verification reuses that digest instead of hashing the body again.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable
from typing import Any

import dkim
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.crypto import HASH_ALGORITHMS, DigestTooLargeError, RSASSA_PKCS1_v1_5_verify

_PREHASHED = {"sha1": Prehashed(hashes.SHA1()), "sha256": Prehashed(hashes.SHA256())}
MIN_OPENSSL_BITS = 1024  # below: dkimpy's own arithmetic (and its "digest too large" error)
MAX_OPENSSL_BITS = 16384  # OPENSSL_RSA_MAX_MODULUS_BITS
SMALL_MODULUS_BITS = 3072  # OPENSSL_RSA_SMALL_MODULUS_BITS: above it, e is limited to 64 bits
MAX_PUBEXP_BITS = 64


@functools.lru_cache(maxsize=256)
def _openssl_key(modulus: int, exponent: int) -> rsa.RSAPublicKey | None:
    """The key as OpenSSL's, or None where OpenSSL's limits differ from dkimpy's arithmetic."""
    bits = modulus.bit_length()
    if not MIN_OPENSSL_BITS <= bits <= MAX_OPENSSL_BITS or not modulus & 1 or not exponent & 1:
        return None
    if not 3 <= exponent < modulus:
        return None
    if bits > SMALL_MODULUS_BITS and exponent.bit_length() > MAX_PUBEXP_BITS:
        return None
    try:
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    except ValueError:
        return None


def rsa_verify(hasher: Any, signature: bytes, public_key: dict[str, int]) -> bool:
    """dkimpy's RSASSA_PKCS1_v1_5_verify(hasher, signature, public_key), by OpenSSL where the
    key allows (see the module docstring); `hasher` is a hashlib object fed the signed data."""
    modulus, exponent = public_key["modulus"], public_key["publicExponent"]
    key = _openssl_key(modulus, exponent)
    algorithm = _PREHASHED.get(hasher.name.lower())
    if key is None or algorithm is None:
        return bool(RSASSA_PKCS1_v1_5_verify(hasher, signature, public_key))
    length = (modulus.bit_length() + 7) // 8  # dkimpy's modlen
    block = (int.from_bytes(signature, "big") % modulus).to_bytes(length, "big")
    try:
        key.verify(block, hasher.digest(), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


@functools.lru_cache(maxsize=256)
def _evaluated_key(name: bytes, record: bytes | str | None) -> tuple[Any, Any, Any, Any]:
    """dkimpy's evaluate_pk, once per (name, record): its results are only read."""
    return dkim.evaluate_pk(name, record)


class _OpenSslVerification:
    """dkimpy's verify_sig and verify_sig_process with the changes the module docstring lists
    (a mixin for dkim.DKIM and dkim.ARC: the attributes are dkimpy's DomainSigner's)."""

    body: bytes
    headers: list[tuple[bytes, bytes]]
    logger: Any
    timeout: float
    tlsrpt: Any
    seqtlsrpt: bool
    debug_content: bool
    pk: Any
    keysize: int
    ktag: bytes | None
    signed_headers: Any
    minkey: int

    def canonical_body(self, policy: CanonicalizationPolicy) -> bytes:
        """The body canonicalised by `policy`'s body algorithm, once per algorithm."""
        bodies: dict[Any, bytes] = self.__dict__.setdefault("_canonical_bodies", {})
        if policy.body_algorithm not in bodies:
            bodies[policy.body_algorithm] = policy.canonicalize_body(self.body)
        return bodies[policy.body_algorithm]

    def body_digest(
        self, policy: CanonicalizationPolicy, length: int | None, hasher: Callable[..., Any]
    ) -> bytes:
        """The canonicalised body's hash (of its first `length` octets with l=), once each."""
        digests: dict[tuple[Any, int | None, Any], bytes] = self.__dict__.setdefault(
            "_body_digests", {}
        )
        key = (policy.body_algorithm, length, hasher)
        if key not in digests:
            body = self.canonical_body(policy)
            digests[key] = hasher(body if length is None else body[:length]).digest()
        return digests[key]

    def verify_sig(self, sig, include_headers, sig_header, dnsfunc):  # noqa: ANN001, ANN201
        name = sig[b"s"] + b"._domainkey." + sig[b"d"] + b"."
        try:
            record = dnsfunc(name, timeout=self.timeout)
            self.pk, self.keysize, self.ktag, self.seqtlsrpt = _evaluated_key(name, record)
        except dkim.KeyFormatError as e:
            self.logger.error(f"{e}")
            return False
        except binascii.Error as e:
            self.logger.error(f"KeyFormatError: {e}")
            return False
        except dkim.DnsTimeoutError as e:
            self.logger.error(
                f"DnsTimeoutError: Domain: {sig[b'd']!r} Selector: {sig[b's']!r} Error message: {e}"
            )
            return False
        return self.verify_sig_process(sig, include_headers, sig_header, dnsfunc)

    def verify_sig_process(self, sig, include_headers, sig_header, dnsfunc):  # noqa: ANN001, ANN201, ARG002
        if self.tlsrpt == "strict" and not self.seqtlsrpt:
            raise dkim.ValidationError("Message is tlsrpt and Service Type is not tlsrpt")
        if not self.tlsrpt and self.seqtlsrpt:
            raise dkim.ValidationError("Message is not tlsrpt and Service Type is tlsrpt")
        try:
            canon_policy = CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple"))
        except InvalidCanonicalizationPolicyError as e:
            raise dkim.MessageFormatError(f"invalid c= value: {e.args[0]}") from None
        hasher = HASH_ALGORITHMS[sig[b"a"]]
        if b"bh" in sig:
            length = int(sig[b"l"]) if b"l" in sig and not self.tlsrpt else None
            bodyhash = self.body_digest(canon_policy, length, hasher)
            try:
                bh = base64.b64decode(re.sub(rb"\s+", b"", sig[b"bh"]))
            except TypeError as e:
                raise dkim.MessageFormatError(str(e)) from None
            if bodyhash != bh:
                raise dkim.ValidationError(
                    f"body hash mismatch (got {base64.b64encode(bodyhash)!r}, "
                    f"expected {sig[b'bh']!r})"
                )
        if b"from" in include_headers:  # dkimpy: any extra From counts too (its bug#644046)
            include_headers.append(b"from")
        h = dkim.HashThrough(hasher(), self.debug_content)
        headers = canon_policy.canonicalize_headers(self.headers)
        self.signed_headers = dkim.hash_headers(
            h, canon_policy, headers, include_headers, sig_header, sig
        )
        signature = base64.b64decode(re.sub(rb"\s+", b"", sig[b"b"]))
        if self.ktag == b"rsa":
            try:
                res = rsa_verify(h.hasher, signature, self.pk)
                if res and self.keysize < self.minkey:
                    raise dkim.KeyFormatError(f"public key too small: {self.keysize:d}")
                return res
            except (TypeError, DigestTooLargeError) as e:
                raise dkim.KeyFormatError(f"digest too large for modulus: {e}") from None
        if self.ktag == b"ed25519":
            try:
                self.pk.verify(h.digest(), signature)
                return True
            except nacl.exceptions.BadSignatureError:
                return False
        raise dkim.UnknownKeyTypeError(self.ktag)


class Dkim(_OpenSslVerification, dkim.DKIM):
    """dkim.DKIM, verified as the module docstring says."""


class Arc(_OpenSslVerification, dkim.ARC):
    """dkim.ARC, verified as the module docstring says."""
