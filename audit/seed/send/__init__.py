"""Sending the seed test message through the production path: SMTP submission or an HTTP API.

sender = make_sender("smtp://news@example.com@relay.example.com:587", ca_file=..., timeout=30)
results = await send_all(sender, [SendJob(seed, mail_from, message), ...], rate=1.0)
"""

from .base import Sender, SendError, SendJob, SendResult
from .batch import backoff_delay, send_all
from .http_api import MailgunSender, PostmarkSender, SendGridSender
from .smtp import SmtpSender
from .via import SECRET_ENV_VARS, make_sender, redact_via

__all__ = [
    "SECRET_ENV_VARS",
    "MailgunSender",
    "PostmarkSender",
    "SendError",
    "SendGridSender",
    "SendJob",
    "SendResult",
    "Sender",
    "SmtpSender",
    "backoff_delay",
    "make_sender",
    "redact_via",
    "send_all",
]
