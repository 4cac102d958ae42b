"""Test helper: a throw-away CA, and a TLS reverse proxy on 127.0.0.1 that demands a token before forwarding to a
plain-HTTP server (a real ``chroma run``), as a TLS-terminating, token-checking front of a Chroma server would.

The proxy answers 401 (Chroma's JSON error body) to a request without the right credentials, in one of three modes:
``x-chroma-token`` (``X-Chroma-Token: <token>``), ``bearer`` (``Authorization: Bearer <token>``) or ``basic``
(``Authorization: Basic base64(login:token)``). It counts what it accepted and refused, so a test can tell how
often a client tried.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "content-length", "host"}
CREDENTIAL_HEADERS = {"authorization", "x-chroma-token"}


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA certificate (``ca_file``, PEM) and the server certificate it signed for 127.0.0.1 and localhost."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_ca(directory: Path, name: str = "vectorops test CA") -> CertificateAuthority:
    """Create a CA and a server certificate signed by it, for ``127.0.0.1`` and ``localhost``, in ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                            content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, encipher_only=False, decipher_only=False),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    found = CertificateAuthority(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    found.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    found.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
    return found


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: TokenProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:  # the TLS handshake runs in the request's thread: a client that never speaks TLS stalls no one
            request = self.proxy.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with self.proxy.lock:
                self.proxy.handshake_failures += 1
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client went away: not the test's concern
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if not proxy.authorized(self.headers):
            with proxy.lock:
                proxy.refused += 1
            self._reply(401, [("Content-Type", "application/json")],
                        b'{"error":"AuthError","message":"Unauthorized"}')
            return
        with proxy.lock:
            proxy.accepted += 1
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | CREDENTIAL_HEADERS}
        upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            self._reply(response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP],
                        data)
        finally:
            upstream.close()

    def _reply(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward


class TokenProxy:
    """A TLS reverse proxy on 127.0.0.1 (``port``) to ``upstream_port``, demanding ``token`` in ``mode``.

    Use as a context manager; ``accepted`` and ``refused`` count requests, ``handshake_failures`` TLS handshakes
    that failed (a client that does not trust the certificate, or speaks plain HTTP).
    """

    def __init__(self, upstream_port: int, ca: CertificateAuthority, token: str, mode: str = "x-chroma-token",
                 login: str = "reader") -> None:
        if mode not in ("x-chroma-token", "bearer", "basic"):
            raise ValueError(f"mode {mode!r}")
        self.upstream_port, self.token, self.mode, self.login = upstream_port, token, mode, login
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(ca.cert_file, ca.key_file)
        self.lock = threading.Lock()
        self.accepted = self.refused = self.handshake_failures = 0
        self._server = _Server(self)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="tls-token-proxy", daemon=True)

    def authorized(self, headers: Any) -> bool:
        """Whether the request carries the token the way ``mode`` asks."""
        if self.mode == "x-chroma-token":
            return headers.get("X-Chroma-Token") == self.token
        if self.mode == "bearer":
            return headers.get("Authorization") == f"Bearer {self.token}"
        pair = base64.b64encode(f"{self.login}:{self.token}".encode()).decode("ascii")
        return headers.get("Authorization") == f"Basic {pair}"

    def counts(self) -> tuple[int, int, int]:
        """``(accepted, refused, handshake_failures)`` so far."""
        with self.lock:
            return self.accepted, self.refused, self.handshake_failures

    def __enter__(self) -> TokenProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
