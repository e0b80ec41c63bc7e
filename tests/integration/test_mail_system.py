"""The loopback mail system (tests/infra/mail_system.py) does what the seed tests rely on.

Messages go in through the sending Postfix (smtplib, STARTTLS against the test CA) and come
back from Dovecot (imapclient, STARTTLS with an SSL context made from the CA file, as
--ca-file does). The Authentication-Results checked here are written by policyd-spf, OpenDKIM
and OpenDMARC in the seed MX: nothing in this file writes one.
"""

from __future__ import annotations

import email
import email.policy
import re
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage, Message

import dns.message
import dns.query
import pytest
from imapclient import IMAPClient

from audit.net.dns import load_zone_dir, normalize_name

WAIT = 60  # seconds a copy may take to arrive before the test gives up (not a threshold)


def send(ms, port: int, sender: str, seed: str, *, login: bool = False) -> str:
    """Submits one message from `sender` to `seed`; returns its unique token."""
    token = uuid.uuid4().hex
    msg = EmailMessage()
    msg["From"] = f"News <{sender}>"
    msg["To"] = seed
    msg["Subject"] = f"seed probe {token}"
    msg["Message-ID"] = f"<{token}@{sender.split('@')[1]}>"
    msg["Date"] = email.utils.formatdate()
    msg.set_content(f"Hello seed.\ntoken {token}\n")
    context = ssl.create_default_context(cafile=str(ms.ca_file))
    with smtplib.SMTP(ms.host, port, timeout=30) as smtp:
        smtp.starttls(context=context)
        if login:
            smtp.login(ms.smtp_user, ms.smtp_password)
        assert smtp.send_message(msg) == {}
    return token


def imap(ms, seed) -> IMAPClient:
    client = IMAPClient(ms.host, port=ms.imap_port, ssl=False, timeout=30)
    client.starttls(ssl.create_default_context(cafile=str(ms.ca_file)))
    client.login(seed.username, seed.password)
    return client


def fetch(ms, seed, token: str) -> tuple[str, Message]:
    """(folder, message) of the copy carrying `token`, polling INBOX and Junk."""
    deadline = time.monotonic() + WAIT
    with imap(ms, seed) as client:
        while True:
            for folder in ("INBOX", "Junk"):
                client.select_folder(folder, readonly=True)
                ids = client.search(["SUBJECT", token])
                if ids:
                    raw = client.fetch(ids[:1], ["RFC822"])[ids[0]][b"RFC822"]
                    return folder, email.message_from_bytes(raw, policy=email.policy.compat32)
            if time.monotonic() > deadline:
                pytest.fail(f"no copy of {token} for {seed.address}; logs:\n{ms.logs()}")
            time.sleep(0.1)


def verdicts(msg: Message, authserv_id: str) -> dict[str, list[str]]:
    """method -> results from every Authentication-Results header by `authserv_id`."""
    found: dict[str, list[str]] = {}
    for value in msg.get_all("Authentication-Results", []):
        text = " ".join(value.split())
        while re.search(r"\([^()]*\)", text):  # comments, which may hold ";" and "="
            text = re.sub(r"\([^()]*\)", " ", text)
        server, *results = (part.strip() for part in text.split(";"))
        if server.split()[0] != authserv_id:
            continue
        for result in results:
            method, _, rest = result.partition("=")
            if rest:
                found.setdefault(method.strip(), []).append(rest.split()[0])
    return found


def test_good_sender_passes_spf_dkim_dmarc(mail_system):
    ms = mail_system
    seed = ms.seed("seed1")
    token = send(ms, ms.submission_port, f"news@{ms.good_domain}", seed.address, login=True)
    folder, msg = fetch(ms, seed, token)
    assert folder == "INBOX"
    assert verdicts(msg, ms.authserv_id) == {
        "spf": ["pass"],
        "dkim": ["pass"],
        "dkim-atps": ["neutral"],
        "dmarc": ["pass"],
    }
    assert f"d={ms.good_domain}" in msg["DKIM-Signature"].replace(" ", "")
    results = " ".join(" ".join(msg.get_all("Authentication-Results")).split())
    assert f"header.d={ms.good_domain}" in results and f"header.s={ms.dkim_selector}" in results
    assert f"smtp.mailfrom={ms.good_domain}" in results
    assert f"header.from={ms.good_domain}" in results


def test_broken_sender_fails_dkim_and_dmarc(mail_system):
    ms = mail_system
    seed = ms.seed("seed2")
    token = send(ms, ms.submission_port, f"news@{ms.broken_domain}", seed.address)
    folder, msg = fetch(ms, seed, token)
    assert folder == "INBOX"
    found = verdicts(msg, ms.authserv_id)
    assert found["dkim"] == ["fail"]  # signed, but not with the key published in DNS
    assert found["spf"] == ["softfail"]  # 127.0.0.1 is not in broken.sender.test's SPF
    assert found["dmarc"] == ["fail"]
    assert f"d={ms.broken_domain}" in msg["DKIM-Signature"].replace(" ", "")


def test_junk_seed_gets_its_copy_in_junk(mail_system):
    ms = mail_system
    seed = ms.seed("seed3")
    assert seed.folder == "Junk"
    token = send(ms, ms.submission_port, f"news@{ms.good_domain}", seed.address)
    folder, msg = fetch(ms, seed, token)
    assert folder == "Junk"
    assert msg["To"] == seed.address  # only the envelope was rewritten
    assert verdicts(msg, ms.authserv_id)["dmarc"] == ["pass"]


def test_unsigned_port_sends_without_dkim(mail_system):
    ms = mail_system
    seed = ms.seed("seed1")
    token = send(ms, ms.unsigned_port, f"news@{ms.good_domain}", seed.address)
    _, msg = fetch(ms, seed, token)
    assert msg["DKIM-Signature"] is None
    found = verdicts(msg, ms.authserv_id)
    assert found["dkim"] == ["none"] and found["spf"] == ["pass"]
    assert found["dmarc"] == ["pass"]  # SPF-aligned


def test_credentials_imaps_and_dns(mail_system):
    ms = mail_system
    context = ssl.create_default_context(cafile=str(ms.ca_file))
    seed = ms.seed("seed1")
    with IMAPClient(ms.host, port=ms.imaps_port, ssl=True, ssl_context=context) as client:
        client.login(seed.username, seed.password)
        folders = {name for _, _, name in client.list_folders()}
        assert {"INBOX", "Junk"} <= folders
    with IMAPClient(ms.host, port=ms.imap_port, ssl=False) as client:
        client.starttls(context)
        with pytest.raises(IMAPClient.Error):
            client.login(seed.username, "wrong password")
    with smtplib.SMTP(ms.host, ms.submission_port, timeout=30) as smtp:
        smtp.starttls(context=context)
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp.login(ms.smtp_user, "wrong password")


def test_dns_server_and_zone_dir_agree(mail_system):
    ms = mail_system
    zones = load_zone_dir(ms.zone_dir)  # what --zone-dir reads
    for name in (
        f"{ms.dkim_selector}._domainkey.{ms.good_domain}",
        f"{ms.dkim_selector}._domainkey.{ms.broken_domain}",
        f"_dmarc.{ms.good_domain}",
        ms.broken_domain,
    ):
        query = dns.message.make_query(name, "TXT")
        answer = dns.query.udp(query, ms.dns_server.host, port=ms.dns_server.port, timeout=5)
        over_dns = [b"".join(rd.strings) for rd in answer.answer[0]]
        offline = [b"".join(rd.strings) for rd in zones.nodes[normalize_name(name)]["TXT"]]
        assert over_dns == offline
    mx = dns.message.make_query(ms.seed_domain, "MX")
    answer = dns.query.udp(mx, ms.dns_server.host, port=ms.dns_server.port, timeout=5)
    assert answer.answer[0][0].exchange.to_text() == f"{ms.mx_hostname}."
