"""Real local alert receivers for tests: an HTTP server that records POSTs, and an aiosmtpd SMTP server.

Registered as a pytest plugin in ``tests/conftest.py``, so every test module can use the fixtures.
"""

from __future__ import annotations

import email
import email.policy
import json
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
        """The decoded body: a raw substring check would miss text hidden by a transfer encoding."""
        return str(self.message.get_body(preferencelist=("plain",)).get_content())


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
