"""The manifest's signature: an HMAC-SHA256 with a key kept under ``VECTOROPS_HOME``, and private backup files.

The manifest lists the sha256 of every file of a backup, so one HMAC over the manifest's bytes authenticates the
whole backup. The key (``VECTOROPS_HOME/secrets/backup-hmac.key``, 32 random bytes, mode 0600 in a 0700 folder)
is created on first use by ``vectorops backup``, like the local role passwords of :mod:`vectorops.db_roles`.
The signature sits beside the manifest as ``manifest.json.hmac``. Someone who can write the backup directory but
does not hold the key cannot make a backup that ``verify`` or ``restore`` accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from vectorops.backup.manifest import MANIFEST, write_private
from vectorops.db_roles import write_secret_once

KEY_FILE = "secrets/backup-hmac.key"
SIGNATURE = f"{MANIFEST}.hmac"
ALGORITHM = "HMAC-SHA256"
KEY_BYTES = 32


def key_path(home: Path) -> Path:
    """Where the signing key lives: ``<home>/secrets/backup-hmac.key``.

    :param home: ``VECTOROPS_HOME``.
    """
    return home / KEY_FILE


def ensure_key(home: Path) -> bytes:
    """The signing key, created (0600, folder 0700) when there is none.

    :param home: ``VECTOROPS_HOME``.
    :raises ValueError: naming the file when it exists but does not hold a key.
    """
    path = key_path(home)
    key = path.read_bytes() if path.is_file() else write_secret_once(path, secrets.token_bytes(KEY_BYTES))
    if len(key) < KEY_BYTES:
        raise ValueError(f"backup signing key {path} holds {len(key)} bytes; expected {KEY_BYTES}")
    return key


def read_key(home: Path) -> bytes | None:
    """The signing key, or ``None`` when there is none (or it is unreadable or too short).

    :param home: ``VECTOROPS_HOME``.
    """
    try:
        key = key_path(home).read_bytes()
    except OSError:
        return None
    return key if len(key) >= KEY_BYTES else None


def key_id(key: bytes) -> str:
    """A short public name of ``key`` (sha256 of it, 16 hex digits): tells "another key" from "changed".

    :param key: the signing key.
    """
    return hashlib.sha256(b"vectorops-backup-key:" + key).hexdigest()[:16]


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def sign_manifest(manifest_path: Path, key: bytes) -> Path:
    """Write ``manifest.json.hmac`` beside ``manifest_path``: the HMAC of the manifest's bytes.

    :param manifest_path: a backup's ``manifest.json``.
    :param key: the signing key (:func:`ensure_key`).
    :return: the signature's path.
    """
    document = {"algorithm": ALGORITHM, "key_id": key_id(key), "hmac": _mac(key, manifest_path.read_bytes())}
    return write_private(manifest_path.with_name(SIGNATURE), (json.dumps(document, indent=2) + "\n").encode())


def signature_problem(manifest_path: Path, home: Path) -> dict[str, Any] | None:
    """Why the manifest is not authentic, as a failed expectation, or ``None`` when its HMAC checks.

    :param manifest_path: a backup's ``manifest.json``.
    :param home: ``VECTOROPS_HOME``, which holds the key.
    """
    signature = manifest_path.with_name(SIGNATURE)
    key = read_key(home)

    def failed(reason: str) -> dict[str, Any]:
        return {"expectation": "manifest_signed", "observed": {"manifest": str(manifest_path), "problem": reason}}

    if key is None:
        return failed(f"no backup signing key at {key_path(home)} to check it with")
    try:
        document = json.loads(signature.read_bytes())
        recorded, recorded_key, algorithm = document["hmac"], document["key_id"], document["algorithm"]
    except FileNotFoundError:
        return failed(f"it has no signature ({signature} is missing)")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return failed(f"its signature {signature} is unreadable: {type(exc).__name__}")
    if algorithm != ALGORITHM or not isinstance(recorded, str):
        return failed(f"its signature {signature} is not {ALGORITHM}")
    if recorded_key != key_id(key):
        return failed(f"it was signed with another key ({recorded_key}, not {key_id(key)} of {key_path(home)})")
    if not hmac.compare_digest(recorded, _mac(key, manifest_path.read_bytes())):
        return failed("its HMAC does not match: the manifest changed after it was signed")
    return None

