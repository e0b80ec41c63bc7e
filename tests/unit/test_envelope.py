"""Envelope reconstruction from Received chains in the formats real MTAs write.

The samples follow what Postfix, Exim, Exchange Online, Gmail and Amazon SES put in Received
headers (host names as those systems print them; every address from the documentation ranges
or private space). Each test asserts the connecting IP, the HELO and which header they came from.
"""

from __future__ import annotations

import email
import email.policy

import pytest

from audit.message.envelope import (
    choose_edge_hop,
    is_internal,
    parse_hops,
    parse_received,
    reconstruct_envelope,
)

BODY = (
    "From: Sender <news@sender.example>\n"
    "To: user@receiver.example\n"
    "Subject: hello\n"
    "Date: Tue, 24 Nov 2026 10:00:00 +0000\n"
    "Message-ID: <abc@sender.example>\n"
    "\n"
    "Hello.\n"
)


def message(headers: str):
    raw = (headers.strip("\n") + "\n" + BODY).replace("\n", "\r\n").encode()
    return email.message_from_bytes(raw, policy=email.policy.compat32)


POSTFIX = """\
Return-Path: <bounce@sender.example>
Received: from localhost (localhost [127.0.0.1])
\tby mx.receiver.example (Postfix) with ESMTP id 4Xk2Lp0Rq9z9sWc
\tfor <user@receiver.example>; Tue, 24 Nov 2026 10:00:03 +0000 (UTC)
Received: from mail.sender.example (mail.sender.example [192.0.2.25])
\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)
\t(No client certificate requested)
\tby mx.receiver.example (Postfix) with ESMTPS id 4Xk2Ln5Bz1z9sVx
\tfor <user@receiver.example>; Tue, 24 Nov 2026 10:00:02 +0000 (UTC)
Received: from [10.1.2.3] (client.lan [10.1.2.3])
\t(Authenticated sender: news@sender.example)
\tby mail.sender.example (Postfix) with ESMTPSA id 9F2C1A0B3
\tfor <user@receiver.example>; Tue, 24 Nov 2026 10:00:00 +0000 (UTC)
"""

POSTFIX_UNKNOWN_RDNS = """\
Received: from smtp.sender.example (unknown [IPv6:2001:db8::25])
\tby mx.receiver.example (Postfix) with ESMTP id 4Xk2Ln5Bz1z9sVx
\tfor <user@receiver.example>; Tue, 24 Nov 2026 10:00:02 +0000 (UTC)
"""

EXIM = """\
Return-Path: <bounce@sender.example>
Received: from mail.sender.example ([192.0.2.30] helo=smtp.sender.example)
\tby mx.receiver.example with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384
\t(Exim 4.96)
\t(envelope-from <bounce@sender.example>)
\tid 1rAbCd-000123-XY
\tfor user@receiver.example; Tue, 24 Nov 2026 10:00:02 +0000
"""

EXIM_NO_RDNS = """\
Received: from [192.0.2.31] (helo=smtp.sender.example)
\tby mx.receiver.example with esmtp (Exim 4.96)
\t(envelope-from <bounce@sender.example>)
\tid 1rAbCe-000124-YZ
\tfor user@receiver.example; Tue, 24 Nov 2026 10:00:02 +0000
"""

# Exchange (on-premises / older Exchange Online): internal hops between 10.x mailbox and
# transport servers, then the frontend that accepted the message from the Internet.
EXCHANGE = """\
Received: from EXMBX02.corp.receiver.example (10.20.0.12) by
 EXMBX01.corp.receiver.example (10.20.0.11) with Microsoft SMTP Server
 (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1258.12;
 Tue, 24 Nov 2026 10:00:03 +0000
Received: from EXEDGE01.corp.receiver.example (10.20.1.5) by
 EXMBX02.corp.receiver.example (10.20.0.12) with Microsoft SMTP Server
 (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1258.12
 via Frontend Transport; Tue, 24 Nov 2026 10:00:02 +0000
Received: from mail.sender.example (192.0.2.40) by
 EXEDGE01.corp.receiver.example (10.20.1.5) with Microsoft SMTP Server
 (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1258.12
 via Frontend Transport; Tue, 24 Nov 2026 10:00:01 +0000
Received: from [10.9.8.7] (10.9.8.7) by mail.sender.example (Postfix) with ESMTPSA
 id 77AA; Tue, 24 Nov 2026 10:00:00 +0000
"""

# Exchange Online: the internal hops use Microsoft's own (public) IPv6 space, so "the topmost
# external IP" is a Microsoft server; --receiver-domain outlook.com finds the real edge.
OFFICE365 = """\
Received: from DM6PR12MB1234.namprd12.prod.outlook.com (2603:10b6:5:1c0::15) by
 SN6PR12MB5678.namprd12.prod.outlook.com with HTTPS; Tue, 24 Nov 2026 10:00:03 +0000
Received: from BN9PR03CA0123.namprd03.prod.outlook.com (2603:10b6:408:fe::8)
 by DM6PR12MB1234.namprd12.prod.outlook.com (2603:10b6:5:1c0::15) with
 Microsoft SMTP Server (version=TLS1_2,
 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7000.12; Tue, 24 Nov
 2026 10:00:02 +0000
Received: from BN8NAM11FT045.eop-nam11.prod.protection.outlook.com
 (2603:10b6:408:fe:cafe::4a) by BN9PR03CA0123.outlook.office365.com
 (2603:10b6:408:fe::8) with Microsoft SMTP Server (version=TLS1_2,
 cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7000.12 via Frontend
 Transport; Tue, 24 Nov 2026 10:00:01 +0000
Received: from mail.sender.example (192.0.2.41) by
 BN8NAM11FT045.mail.protection.outlook.com (10.13.177.47) with Microsoft SMTP
 Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id
 15.20.7000.12 via Frontend Transport; Tue, 24 Nov 2026 10:00:00 +0000
"""

GMAIL = """\
Delivered-To: user@gmail.com
Received: by 2002:a05:7300:1234:b0:12a:abcd:ef01 with SMTP id x12csp345678dyb;
        Tue, 24 Nov 2026 02:00:01 -0800 (PST)
X-Received: by 2002:a17:90b:123:b0:2a1:f00d:1234 with SMTP id 98e67ed59e1d1-2a1f00d1234mr;
        Tue, 24 Nov 2026 02:00:01 -0800 (PST)
Return-Path: <bounce@sender.example>
Received: from mail.sender.example (mail.sender.example. [198.51.100.7])
        by mx.google.com with ESMTPS id a1si123456qkb.345.2026.11.24.02.00.00
        for <user@gmail.com>
        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);
        Tue, 24 Nov 2026 02:00:00 -0800 (PST)
Received-SPF: pass (google.com: domain of bounce@sender.example designates 198.51.100.7 as \
permitted sender) client-ip=198.51.100.7;
Received: from [203.0.113.50] (dsl-203-0-113-50.isp.example [203.0.113.50])
        (Authenticated sender: alice@sender.example)
        by mail.sender.example (Postfix) with ESMTPSA id 4AbCdEf
        for <user@gmail.com>; Tue, 24 Nov 2026 10:00:00 +0000 (UTC)
"""

SES = """\
Return-Path: <0100018c0a1b2c3d-abc-000000@amazonses.com>
Received: from a8-12.smtp-out.amazonses.com (a8-12.smtp-out.amazonses.com [192.0.2.112])
\tby mx.receiver.example (Postfix) with ESMTPS id 4Xk2Lq1Tt3z9sXy
\tfor <user@receiver.example>; Tue, 24 Nov 2026 10:00:01 +0000 (UTC)
Received: from app01.internal.example (ec2-203-0-113-9.compute-1.amazonaws.com
\t[203.0.113.9]) by email-smtp.amazonaws.com with SMTP (SimpleEmailService-d-ABCDEF123)
\tid 0Xyz1234; Tue, 24 Nov 2026 10:00:00 +0000
"""


def envelope_of(headers: str, **options):
    return reconstruct_envelope(message(headers), **options)


def test_postfix_skips_the_loopback_content_filter_hop():
    env = envelope_of(POSTFIX)
    assert env.ip.value == "192.0.2.25"
    assert env.helo.value == "mail.sender.example"
    assert env.receiver.value == "mx.receiver.example"
    assert env.ip.source.startswith("Received[1]: from mail.sender.example")
    assert env.helo.source == env.ip.source
    assert env.mail_from.value == "bounce@sender.example"
    assert env.mail_from.source == "Return-Path: <bounce@sender.example>"
    assert [h["from_ip"] for h in env.hops] == ["127.0.0.1", "192.0.2.25", "10.1.2.3"]
    assert env.hops[1]["from_rdns"] == "mail.sender.example"


def test_postfix_unknown_rdns_and_ipv6_literal():
    env = envelope_of(POSTFIX_UNKNOWN_RDNS)
    assert (env.ip.value, env.helo.value) == ("2001:db8::25", "smtp.sender.example")
    assert env.hops[0]["from_rdns"] is None
    assert env.ip.source.startswith("Received[0]:")


def test_exim_verified_name_then_helo():
    env = envelope_of(EXIM)
    assert (env.ip.value, env.helo.value) == ("192.0.2.30", "smtp.sender.example")
    assert env.hops[0]["from_rdns"] == "mail.sender.example"
    assert env.receiver.value == "mx.receiver.example"
    # "(envelope-from <...>)" is a comment, not a from clause
    assert env.ip.source.startswith("Received[0]: from mail.sender.example ([192.0.2.30]")


def test_exim_without_reverse_dns():
    env = envelope_of(EXIM_NO_RDNS)
    assert (env.ip.value, env.helo.value) == ("192.0.2.31", "smtp.sender.example")
    assert env.hops[0]["from_rdns"] is None


def test_exchange_internal_10_x_hops_are_skipped():
    env = envelope_of(EXCHANGE)
    assert (env.ip.value, env.helo.value) == ("192.0.2.40", "mail.sender.example")
    assert env.receiver.value == "exedge01.corp.receiver.example"
    assert env.ip.source.startswith("Received[2]: from mail.sender.example (192.0.2.40)")


def test_exchange_with_receiver_domain_names_the_same_edge():
    env = envelope_of(EXCHANGE, receiver_domain="receiver.example")
    assert env.ip.value == "192.0.2.40"
    assert env.ip.source.startswith("Received[2]:")


def test_office365_public_ipv6_internal_hops_fool_the_default():
    # Without a boundary the topmost public address is a Microsoft-internal server.
    env = envelope_of(OFFICE365)
    assert env.ip.value == "2603:10b6:5:1c0::15"
    assert env.ip.source.startswith("Received[0]:")


def test_office365_receiver_domain_finds_the_edge():
    env = envelope_of(OFFICE365, receiver_domain="outlook.com")
    assert (env.ip.value, env.helo.value) == ("192.0.2.41", "mail.sender.example")
    assert env.receiver.value == "bn8nam11ft045.mail.protection.outlook.com"
    assert env.ip.source.startswith("Received[3]: from mail.sender.example (192.0.2.41)")


def test_office365_trusted_hops():
    env = envelope_of(OFFICE365, trusted_hops=3)
    assert env.ip.value == "192.0.2.41"
    assert env.ip.source.startswith("Received[3]:")


def test_gmail_top_hop_without_from_then_mx_google_edge():
    env = envelope_of(GMAIL)
    assert env.hops[0]["from_ip"] is None and env.hops[0]["by"].startswith("2002:a05")
    assert (env.ip.value, env.helo.value) == ("198.51.100.7", "mail.sender.example")
    assert env.hops[1]["from_rdns"] == "mail.sender.example"  # trailing dot dropped
    assert env.receiver.value == "mx.google.com"
    assert env.ip.source.startswith("Received[1]: from mail.sender.example")
    # the submission hop below (a public client address) is not the edge
    assert env.hops[2]["from_ip"] == "203.0.113.50"


def test_gmail_receiver_domain():
    env = envelope_of(GMAIL, receiver_domain="google.com")
    assert env.ip.value == "198.51.100.7"


def test_ses_edge_is_the_ses_outbound_host():
    env = envelope_of(SES)
    assert (env.ip.value, env.helo.value) == ("192.0.2.112", "a8-12.smtp-out.amazonses.com")
    assert env.mail_from.value == "0100018c0a1b2c3d-abc-000000@amazonses.com"
    assert env.ip.source.startswith("Received[0]:")
    assert env.hops[1]["from_ip"] == "203.0.113.9"
    assert env.hops[1]["by"] == "email-smtp.amazonaws.com"


def test_trusted_hops_zero_means_the_top_header_is_the_edge():
    env = envelope_of(POSTFIX, trusted_hops=0)
    assert env.ip.value == "127.0.0.1"
    assert env.ip.source.startswith("Received[0]:")


def test_trusted_hops_two_goes_below_the_receiver():
    env = envelope_of(POSTFIX, trusted_hops=2)
    assert env.ip.value == "10.1.2.3"


def test_trusted_hops_beyond_the_chain_gives_no_edge():
    env = envelope_of(POSTFIX, trusted_hops=5)
    assert env.ip.value is None
    assert env.ip.source == "no Received header with a client address"


def test_receiver_domain_that_matches_no_hop_falls_back_to_first_public():
    env = envelope_of(POSTFIX, receiver_domain="elsewhere.example")
    assert env.ip.value == "192.0.2.25"


def test_receiver_domain_skips_hops_inside_the_domain():
    headers = """\
Received: from relay2.receiver.example (relay2.receiver.example [198.51.100.2])
\tby mx.receiver.example (Postfix) with ESMTP id A1; Tue, 24 Nov 2026 10:00:03 +0000
Received: from mail.sender.example (mail.sender.example [192.0.2.25])
\tby relay2.receiver.example (Postfix) with ESMTPS id B2; Tue, 24 Nov 2026 10:00:02 +0000
"""
    assert envelope_of(headers).ip.value == "198.51.100.2"
    env = envelope_of(headers, receiver_domain="receiver.example")
    assert (env.ip.value, env.receiver.value) == ("192.0.2.25", "relay2.receiver.example")
    assert env.ip.source.startswith("Received[1]:")


def test_only_private_hops_falls_back_to_the_topmost():
    headers = """\
Received: from app.lan (app.lan [192.168.1.20]) by relay.lan (Postfix) with ESMTP id C3;
\tTue, 24 Nov 2026 10:00:01 +0000
Received: from localhost (localhost [127.0.0.1]) by app.lan (Postfix) with ESMTP id D4;
\tTue, 24 Nov 2026 10:00:00 +0000
"""
    env = envelope_of(headers)
    assert env.ip.value == "192.168.1.20"
    assert env.ip.source.startswith("Received[0]:")


def test_cli_values_win_and_say_so():
    env = envelope_of(POSTFIX, ip="192.0.2.99", helo="override.example", mail_from="")
    assert (env.ip.value, env.ip.source) == ("192.0.2.99", "--ip")
    assert (env.helo.value, env.helo.source) == ("override.example", "--helo")
    assert (env.mail_from.value, env.mail_from.source) == ("", "--mail-from")
    assert env.receiver.value == "mx.receiver.example"


def test_null_return_path_is_the_empty_sender():
    env = envelope_of("Return-Path: <>\n" + POSTFIX_UNKNOWN_RDNS)
    assert env.mail_from.value == ""


def test_no_received_headers():
    env = envelope_of("")
    assert env.ip.value is None and env.helo.value is None and env.hops == []
    assert env.mail_from.value is None
    assert env.mail_from.source == "no Return-Path header"


@pytest.mark.parametrize(
    ("value", "ip", "helo", "rdns"),
    [
        # qmail
        (
            "from unknown (HELO mail.sender.example) (192.0.2.50) by mx.receiver.example "
            "with SMTP; 24 Nov 2026 10:00:00 -0000",
            "192.0.2.50",
            "mail.sender.example",
            None,
        ),
        # sendmail
        (
            "from mail.sender.example (mail.sender.example [192.0.2.51]) by mx.receiver.example "
            "(8.17.1/8.17.1) with ESMTPS id 5AOA00xx; Tue, 24 Nov 2026 10:00:00 GMT",
            "192.0.2.51",
            "mail.sender.example",
            "mail.sender.example",
        ),
        # Sendmail where the PTR does not confirm
        (
            "from helo.sender.example (host.sender.example [192.0.2.52] (may be forged)) by "
            "mx.receiver.example (Postfix) with ESMTP id 1; Tue, 24 Nov 2026 10:00:00 +0000",
            "192.0.2.52",
            "helo.sender.example",
            "host.sender.example",
        ),
        # a client that greets with an address literal
        (
            "from [192.0.2.53] (unknown [192.0.2.53]) by mx.receiver.example (Postfix) with "
            "ESMTP id 2; Tue, 24 Nov 2026 10:00:00 +0000",
            "192.0.2.53",
            "192.0.2.53",
            None,
        ),
    ],
)
def test_other_formats(value, ip, helo, rdns):
    hop = parse_received(0, value)
    assert (hop.from_ip, hop.from_helo, hop.from_rdns) == (ip, helo, rdns)
    assert hop.by == "mx.receiver.example"


def test_garbage_received_headers_do_not_raise():
    for value in ["", "from", "from (", "by", "from [999.1.1.1] by x", "from x (y [::g]) by"]:
        hop = parse_received(0, value)
        assert hop.from_ip is None


def test_non_utf8_received_header():
    raw = (
        b"Received: from h\xff\xfe.sender.example (h.sender.example [192.0.2.60]) by "
        b"mx.receiver.example (Postfix) with ESMTP id 3; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
        b"From: a@sender.example\r\n\r\nbody\r\n"
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    env = reconstruct_envelope(parsed)
    assert env.ip.value == "192.0.2.60"
    assert env.hops[0]["from_rdns"] == "h.sender.example"


@pytest.mark.parametrize(
    ("ip", "internal"),
    [
        ("10.0.0.1", True),
        ("172.16.5.4", True),
        ("192.168.0.1", True),
        ("100.64.0.1", True),
        ("127.0.0.1", True),
        ("::1", True),
        ("fd00::1", True),
        ("fe80::1", True),
        ("::ffff:10.0.0.1", True),
        ("192.0.2.1", False),
        ("2001:db8::1", False),
        ("not-an-ip", False),
    ],
)
def test_is_internal(ip, internal):
    assert is_internal(ip) is internal


def test_choose_edge_hop_on_parsed_hops():
    hops = parse_hops(message(GMAIL))
    assert choose_edge_hop(hops).index == 1
    assert choose_edge_hop(hops, trusted_hops=2).index == 2
    assert choose_edge_hop([]) is None
