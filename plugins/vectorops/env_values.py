"""Values read from the environment, checked: a bad one raises :class:`~vectorops.errors.SettingError` naming the
variable, its value and what it must be."""

from __future__ import annotations

import math
import os

from vectorops.errors import SettingError


def int_env(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingError(f"{name}={raw!r} is not an integer") from exc
    if value < minimum:
        raise SettingError(f"{name}={value} must be at least {minimum}")
    return value


def port_env(name: str, default: int, minimum: int = 1) -> int:
    value = int_env(name, default, minimum)
    if value > 65535:
        raise SettingError(f"{name}={value} is not a TCP port (at most 65535)")
    return value


def float_env(name: str, default: float, minimum: float = 0.0, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingError(f"{name}={raw!r} is not a number") from exc
    if not math.isfinite(value) or value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise SettingError(f"{name}={raw} must be a number {bound}")
    return value


def on_off_env(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise SettingError(f"{name}={os.environ.get(name)!r} must be on or off")
