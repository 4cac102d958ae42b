"""The manifest's signature: an HMAC-SHA256 with a key kept under ``VECTOROPS_HOME``, and private backup files.

The manifest lists the sha256 of every file of a backup, so one HMAC over the manifest's bytes authenticates the
whole backup. The key (``VECTOROPS_HOME/secrets/backup-hmac.key``, 32 random bytes, mode 0600 in a 0700 folder)
is created on first use by ``vectorops backup``, like the local role passwords of :mod:`vectorops.db.roles`, and
never replaced silently: once backups it signed are recorded, a missing key stops the backup until it is restored
(or ``--new-key`` starts a new one). A key others could read or replace is refused.
The signature sits beside the manifest as ``manifest.json.hmac``. Someone who can write the backup directory but
does not hold the key cannot make a backup that ``verify`` or ``restore`` accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import Any

from vectorops.backup.errors import BackupError
from vectorops.backup.manifest import MANIFEST, write_private
from vectorops.db.roles import write_secret_once

KEY_FILE = "secrets/backup-hmac.key"
SIGNATURE = f"{MANIFEST}.hmac"
ALGORITHM = "HMAC-SHA256"
KEY_BYTES = 32

log = logging.getLogger(__name__)


def key_path(home: Path) -> Path:
    """Where the signing key lives: ``<home>/secrets/backup-hmac.key``.

    :param home: ``VECTOROPS_HOME``.
    """
    return home / KEY_FILE


def _check_private(path: Path) -> None:
    """Refuse a key others could read or replace: the file must be this user's and 0600 (or stricter), its
    folder not writable by group or others."""
    folder = path.parent.stat()
    if folder.st_mode & 0o022:
        raise BackupError(f"backup signing key folder {path.parent} has mode {stat.S_IMODE(folder.st_mode):04o}: "
                          f"others may replace the key; chmod 700 {path.parent}")
    info = path.stat()
    if info.st_uid != os.geteuid():
        raise BackupError(f"backup signing key {path} belongs to uid {info.st_uid}, not to this user "
                          f"(uid {os.geteuid()}); chown it, or use a VECTOROPS_HOME of your own")
    if info.st_mode & 0o077:
        raise BackupError(f"backup signing key {path} has mode {stat.S_IMODE(info.st_mode):04o}: group or others "
                          f"may read it; chmod 600 {path}")


def load_key(home: Path) -> bytes:
    """The signing key, checked: this user's file, 0600, in a folder only its owner may write, 32 bytes or more.

    :param home: ``VECTOROPS_HOME``.
    :raises BackupError: naming the file and what is wrong (missing, mode, owner, length).
    """
    path = key_path(home)
    if not path.is_file():
        raise BackupError(f"no backup signing key at {path}")
    _check_private(path)
    key = path.read_bytes()
    if len(key) < KEY_BYTES:
        raise BackupError(f"backup signing key {path} holds {len(key)} bytes; expected {KEY_BYTES}")
    return key


def ensure_key(home: Path, *, signed_backups: list[str] | tuple[str, ...] = (), new_key: bool = False) -> bytes:
    """The signing key (:func:`load_key`); created (0600, folder 0700) only when there is none and either no
    signed backup is recorded or ``new_key`` asks for a new one: a lost key is never silently replaced.

    :param home: ``VECTOROPS_HOME``.
    :param signed_backups: the recorded backups that carry a signature (they need the existing key).
    :param new_key: start a new key although signed backups exist (they can no longer be restored).
    :raises BackupError: naming the file when the key is missing and signed backups need it, when ``new_key``
        is given but a key exists, or when the key is not private or too short.
    """
    path = key_path(home)
    if path.is_file():
        if new_key:
            raise BackupError(f"backup signing key {path} exists; --new-key starts a key only where there is none "
                              "(move the old key away first, and keep it: the backups it signed need it)")
        return load_key(home)
    if signed_backups and not new_key:
        shown = ", ".join(signed_backups[:5]) + (f" and {len(signed_backups) - 5} more" if len(signed_backups) > 5
                                                 else "")
        raise BackupError(f"backup signing key {path} is missing, and {len(signed_backups)} earlier backup(s) "
                          f"({shown}) need it: restore it from your secrets (mode 0600), or pass `vectorops backup "
                          "--new-key` to start a new one (those backups can then no longer be restored)")
    write_secret_once(path, secrets.token_bytes(KEY_BYTES))
    if signed_backups:
        log.warning("backup signing key %s created anew (--new-key): the %d earlier backup(s) it did not sign (%s) "
                    "can no longer be restored", path, len(signed_backups), ", ".join(signed_backups[:5]))
    return load_key(home)


def read_key(home: Path) -> bytes | None:
    """The signing key, or ``None`` when there is none.

    :param home: ``VECTOROPS_HOME``.
    :raises BackupError: when the key exists but is not private or too short (:func:`load_key`).
    """
    return load_key(home) if key_path(home).is_file() else None


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

    def failed(reason: str) -> dict[str, Any]:
        return {"expectation": "manifest_signed", "observed": {"manifest": str(manifest_path), "problem": reason}}

    try:
        key = read_key(home)
    except BackupError as exc:
        return failed(str(exc))
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


