"""The read-only web view (standard-library ThreadingHTTPServer).

    /                 the list of tests: with tokens and links only when the server is bound to
                      a loopback address (whoever can reach it is on this machine); bound
                      elsewhere it shows counts only, since a token is the only key to a report
    /t/TOKEN          the test's HTML report (the same renderer as `audit message --format
                      html`), or a page that reloads itself every 2 s while waiting
    /t/TOKEN.json     {"status": "waiting" | "auditing" | "done", "exit_code", "reports"}: for CI

Everything shown comes from messages and is escaped (the report renderer escapes; the list page
uses html.escape). Pages carry a CSP without scripts and no-referrer (the token is in the URL).
"""

from __future__ import annotations

import html
import ipaddress
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from audit.model import Report, Severity, combined_exit_code
from audit.receive.store import DONE, InboxStore
from audit.receive.tokens import token_of

REFRESH_SECONDS = 2
LIST_LIMIT = 200  # the newest tests on the list page
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}"
    "table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;"
    "text-align:left}code{font-size:.95em}"
)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def test_status(store: InboxStore, token: str, fail_on: Severity) -> dict[str, Any] | None:
    """What /t/TOKEN.json serves (and what the pages are built from); None: no such test."""
    test = store.test(token)
    if test is None:
        return None
    messages = store.messages(token)
    done = [m for m in messages if m.status in DONE]
    reports = [r for m in done if (r := m.report) is not None]
    if not messages:
        status = "waiting"
    elif len(done) < len(messages):
        status = "auditing"
    else:
        status = "done"
    return {
        "token": token,
        "address": test.address,
        "created": test.created,
        "status": status,
        "exit_code": combined_exit_code(reports, fail_on) if reports and status == "done" else None,
        "messages": [
            {
                "id": m.id,
                "arrived": m.arrived,
                "status": m.status,
                "report": json.loads(m.report_json) if m.report_json else None,
            }
            for m in messages
        ],
        "_reports": reports,
    }


def _page(title: str, body: str, *, refresh: bool = False) -> str:
    meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        f'<meta name="referrer" content="no-referrer">{meta}'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


# The test page is the HTML report (reports/ renders it): the engine never imports reports, so
# the command line passes the renderer in.
RenderHtml = Callable[[list[Report], Severity], str]


class InboxWeb:
    """The server and its thread; `.port` is the port actually bound (0 picks a free one)."""

    def __init__(
        self, host: str, port: int, state: Path, fail_on: Severity, render_html: RenderHtml
    ) -> None:
        self.store = InboxStore(state)
        self.host = host
        self.fail_on = fail_on
        self.render_html = render_html  # the HTML report renderer (reports/), given by the CLI
        self.list_tokens = is_loopback(host)
        handler = type("Handler", (_Handler,), {"web": self})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="audit-web")
        self._thread.daemon = True

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self.server.shutdown()
        self.server.server_close()
        self.store.close()

    # --- pages ------------------------------------------------------------------------------

    def list_page(self) -> str:
        every = self.store.tests()
        tests = every[:LIST_LIMIT]
        if not self.list_tokens:
            body = (
                f"<h1>audit receive</h1><p>{len(every)} tests. This inbox's web view is not "
                "bound to loopback, so it lists no test: open <code>/t/TOKEN</code> with the "
                "token <code>audit receive new</code> gave you.</p>"
            )
            return _page("audit receive", body)
        rows = []
        for test in tests:
            info = test_status(self.store, test.token, self.fail_on) or {}
            subject = ""
            for message in info.get("messages") or []:
                subject = _subject(message.get("report")) or subject
            rows.append(
                f'<tr><td><a href="/t/{html.escape(test.token)}">{html.escape(test.address)}</a>'
                f"</td><td>{html.escape(test.created)}</td><td>{html.escape(info['status'])}</td>"
                f"<td>{len(info['messages'])}</td><td>{html.escape(subject)}</td></tr>"
            )
        table = (
            "<table><tr><th>address</th><th>issued</th><th>status</th><th>messages</th>"
            f"<th>subject</th></tr>{''.join(rows)}</table>"
            if rows
            else "<p>No tests yet: <code>audit receive new</code> issues an address.</p>"
        )
        return _page("audit receive", f"<h1>audit receive: tests</h1>{table}")

    def test_page(self, info: dict[str, Any]) -> str:
        if info["status"] == "done":
            return self.render_html(info["_reports"], self.fail_on)
        what = "waiting for a message to" if info["status"] == "waiting" else "auditing mail for"
        body = (
            f"<h1>audit receive</h1><p>{what} <code>{html.escape(info['address'])}</code> "
            f"(this page reloads every {REFRESH_SECONDS} s)</p>"
        )
        return _page(f"audit receive: {info['address']}", body, refresh=True)


def _subject(report: dict[str, Any] | None) -> str:
    """The Subject the headers check recorded, if any (for the list page)."""
    for outcome in (report or {}).get("outcomes") or []:
        facts = outcome.get("facts") or {}
        for key in ("subject", "Subject"):
            if isinstance(facts.get(key), str):
                return facts[key][:120]
        headers = facts.get("headers")
        if isinstance(headers, dict) and isinstance(headers.get("subject"), str):
            return headers["subject"][:120]
    return ""


class _Handler(BaseHTTPRequestHandler):
    web: InboxWeb
    server_version = "audit-receive"
    sys_version = ""
    timeout = 30  # a client that stops sending is dropped: it must not hold a thread forever

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: request lines carry tokens, and tokens are secrets."""

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = unquote(urlsplit(self.path).path)
        try:
            if path == "/":
                self._send(200, self.web.list_page())
                return
            if path.startswith("/t/"):
                name = path[3:]
                as_json = name.endswith(".json")
                try:
                    token = token_of(name.removesuffix(".json"))
                except ValueError:
                    token = ""
                info = test_status(self.web.store, token, self.web.fail_on) if token else None
                if info is None:
                    self._send(404, _page("not found", "<p>No such test.</p>"))
                elif as_json:
                    info.pop("_reports")
                    self._send(200, json.dumps(info, indent=2), "application/json")
                else:
                    self._send(200, self.web.test_page(info))
                return
            self._send(404, _page("not found", "<p>Not found.</p>"))
        except Exception as exc:  # noqa: BLE001 - a page fails, the server stays up
            self._send(500, _page("error", f"<p>{html.escape(type(exc).__name__)}</p>"))

    def _send(self, status: int, text: str, content_type: str = "text/html") -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)
