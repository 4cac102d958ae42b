"""When the recovery drills are stale: the rule the backup jobs alert on and Vector Health marks."""

from __future__ import annotations


def stale_reason(passed_h: float | None, first_h: float | None, max_age_h: float) -> str | None:
    """Why the drills are stale, ``None`` when they are not: the newest passed drill is older than ``max_age_h``, or
    none has passed although the first drill is that old (a platform's first drill may be inconclusive).

    :param passed_h: hours since the newest passed drill finished (``None``: none passed).
    :param first_h: hours since the first drill of any outcome finished (``None``: no drill yet).
    :param max_age_h: the age from which a drill is stale (``VECTOROPS_BACKUP_MAX_AGE_HOURS``).
    """
    if passed_h is not None:
        return None if passed_h <= max_age_h else (
            f"the newest passed recovery drill is {passed_h:.1f} h old (VECTOROPS_BACKUP_MAX_AGE_HOURS={max_age_h:g})")
    if first_h is not None and first_h > max_age_h:
        return f"no recovery drill has passed in the {first_h:.1f} h since the first one"
    return None
