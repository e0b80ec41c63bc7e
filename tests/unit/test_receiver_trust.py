"""Which Authentication-Results count as the receiver's own (RFC 8601 5)."""

from __future__ import annotations

import asyncio

from audit.checks.message import receiver
from audit.message.load import RawMessage
from audit.message_audit import EnvelopeOptions, make_context
from audit.net.dns import Resolver, memory_backend

FORGED = b"""\
Received: from mx.seeds.test by imap.seeds.test with LMTP id 1; Mon, 30 Nov 2026 10:00:02 +0000
Authentication-Results: mx.seeds.test; dkim=fail header.d=x.test header.s=s1
Received: from out.x.test (out.x.test [192.0.2.1]) by mx.seeds.test (Postfix) with ESMTPS id 2;
 Mon, 30 Nov 2026 10:00:01 +0000
Authentication-Results: mx.seeds.test; dkim=pass header.d=x.test header.s=s1
From: a@x.test
To: seed1@seeds.test
Subject: hi
Date: Mon, 30 Nov 2026 10:00:00 +0000
Message-ID: <1@x.test>

body
"""

MICROSOFT = b"""\
Received: from AM0PR01MB1.eurprd01.prod.outlook.com (2603:10a6::1) by
 AM0PR01MB2.eurprd01.prod.outlook.com with HTTPS; Mon, 30 Nov 2026 10:00:02 +0000
Authentication-Results: spf=softfail (sender IP is 192.0.2.1) smtp.mailfrom=x.test; dkim=fail
 (signature did not verify) header.d=x.test;dmarc=fail action=quarantine header.from=x.test;
Received: from out.x.test (192.0.2.1) by AM0PR01MB1.eurprd01.prod.outlook.com (2603:10a6::1) with
 Microsoft SMTP Server id 15.20.1; Mon, 30 Nov 2026 10:00:01 +0000
From: a@x.test
To: seed@outlook.com
Subject: hi
Date: Mon, 30 Nov 2026 10:00:00 +0000
Message-ID: <2@x.test>

body
"""


def _facts(raw: bytes, receiver_domain: str) -> dict:
    resolver = Resolver(memory_backend({}))
    ctx = make_context(
        RawMessage(name="copy", raw=raw),
        resolver,
        envelope=EnvelopeOptions(receiver_domain=receiver_domain),
    )
    return asyncio.run(receiver.check(ctx)).facts["receiver"]


def test_a_header_below_the_receivers_edge_is_not_trusted() -> None:
    facts = _facts(FORGED, "mx.seeds.test")
    trusted = [a["trusted"] for a in facts["authentication_results"]]
    assert trusted == [True, False]
    assert [r["result"] for r in facts["receiver"]["dkim"]] == ["fail"]


def test_microsoft_header_without_authserv_id_is_trusted_for_outlook() -> None:
    facts = _facts(MICROSOFT, "outlook.com")
    assert [a["trusted"] for a in facts["authentication_results"]] == [True]
    assert facts["receiver"]["spf"]["result"] == "softfail"
    assert facts["receiver"]["dmarc"]["result"] == "fail"


APPENDED = b"""\
Received: from out.x.test (out.x.test [192.0.2.1]) by mx.seeds.test (Postfix) with ESMTPS id 2;
 Mon, 30 Nov 2026 10:00:01 +0000
From: a@x.test
To: seed1@seeds.test
Subject: hi
Date: Mon, 30 Nov 2026 10:00:00 +0000
Message-ID: <3@x.test>
Authentication-Results: mx.seeds.test; dkim=fail header.d=x.test header.s=s1

body
"""


def test_a_receiver_that_appends_its_header_at_the_end_is_still_read() -> None:
    facts = _facts(APPENDED, "mx.seeds.test")
    assert [a["trusted"] for a in facts["authentication_results"]] == [True]
    assert [r["result"] for r in facts["receiver"]["dkim"]] == ["fail"]
