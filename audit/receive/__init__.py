"""`audit receive`: a self-hosted test inbox that audits every message it is sent with the true
envelope (peer IP, HELO, MAIL FROM, RCPT, TLS) of the SMTP session that delivered it.

tokens (test addresses) -> smtp (the aiosmtpd listener) -> store (SQLite) -> worker (the message
audit, off the SMTP path) -> web (read-only pages); serve ties them together.
"""
