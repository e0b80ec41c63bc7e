"""Error text from IMAP sessions (imapclient), safe to show: one line, and the password never in it.

imapclient puts the repr of the server's bytes into LoginError (`b'[AUTHENTICATIONFAILED] ...'`);
the seed collector and the DMARC report reader both show such errors to the user.
"""

from __future__ import annotations


def error_text(exc: BaseException) -> str:
    """The exception's message on one line (the server's bytes decoded), or its type's name."""
    text = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = str(text)
    if len(text) > 3 and text[:2] in ("b'", 'b"') and text[-1] == text[1]:
        text = text[2:-1]  # imapclient puts the repr of the server's bytes into LoginError
    return " ".join(str(text).split()) or type(exc).__name__


def scrub(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` masked."""
    return text.replace(secret, "***") if secret else text
