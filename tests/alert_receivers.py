"""Real local alert receivers for tests: an HTTP server that records POSTs, and an aiosmtpd SMTP server; and the
Airflow connections (``AIRFLOW_CONN_*``) that point the alert channels at them.

Registered as a pytest plugin in ``tests/conftest.py``, so every test module can use the fixtures.
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, LoginPassword, Session


@dataclass
class Post:
    path: str
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """A real HTTP server on 127.0.0.1 that records every POST; answers ``status``."""

    server: ThreadingHTTPServer
    posts: list[Post] = field(default_factory=list)
    status: int = 200

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self) -> str:
        return "\n".join(p.body.decode() for p in self.posts)


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    login: tuple[str, str] | None

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    def text(self) -> str:
        """The decoded body as text: a raw substring check would miss text hidden by a transfer encoding.

        SmtpNotifier sends HTML; the alert's text is one ``<pre>`` block, read back without its markup.
        """
        part = self.message.get_body(preferencelist=("plain", "html"))
        content = str(part.get_content())
        if part.get_content_type() == "text/html":
            content = html.unescape(re.sub(r"<[^>]+>", "", content))
        return content


class SmtpHandler:
    """Records every message an aiosmtpd server accepts."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        login = session.auth_data
        credentials = (login.login.decode(), login.password.decode()) if isinstance(login, LoginPassword) else None
        raw = bytes(envelope.original_content or b"")
        self.mails.append(Mail(str(envelope.mail_from), list(envelope.rcpt_tos), raw, credentials))
        return "250 OK"


def use_webhook(monkeypatch: pytest.MonkeyPatch, url: str, conn_id: str = "vectorops_alert_webhook") -> None:
    """Alerts POST their JSON to ``url``: an Airflow ``http`` connection whose host is the URL, named by
    ``VECTOROPS_ALERT_WEBHOOK_CONN_ID``."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", "host": url}))
    monkeypatch.setenv("VECTOROPS_ALERT_WEBHOOK_CONN_ID", conn_id)


def use_slack(monkeypatch: pytest.MonkeyPatch, endpoint: str, token: str,
              conn_id: str = "vectorops_alert_slack") -> None:
    """Slack alerts go to ``endpoint/token``: an Airflow ``slackwebhook`` connection (the token as its password),
    named by ``VECTOROPS_ALERT_SLACK_CONN_ID``."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}",
                       json.dumps({"conn_type": "slackwebhook", "host": endpoint, "password": token}))
    monkeypatch.setenv("VECTOROPS_ALERT_SLACK_CONN_ID", conn_id)


def smtp_uri(port: int, credentials: str = "", security: str = "plain") -> str:
    """An Airflow SMTP connection URI to 127.0.0.1:``port``, as ``SmtpHook`` reads its extras.

    :param credentials: ``login:password@``, percent-encoded, or empty.
    :param security: ``plain`` (no TLS), ``starttls`` or ``ssl`` (SMTPS).
    """
    flags = {"plain": "disable_ssl=true&disable_tls=true", "starttls": "disable_ssl=true", "ssl": "disable_tls=true"}
    return f"smtp://{credentials}127.0.0.1:{port}/?{flags[security]}&retry_limit=0&timeout=10"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver: HttpReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.posts.append(Post(self.path, self.headers.get("Content-Type", ""), body))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = HttpReceiver(server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpHandler, int]]:
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()
