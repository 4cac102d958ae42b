"""The Recovery section of the Vector Health page: the last verified recovery drill, the last drill when it did not
pass, the RPO achieved then and now, and the WAL archive's lag.

Contract relied on by the tests: the section is ``<section id="recovery" data-database="NAME">``; each line is a
``<td>`` of its own class (``verified-drill``, ``last-drill``, ``rpo``, ``wal-archive``). Bad states are marked
as the collection rows mark them (``fail``, ``warn``). Everything shown is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from vectorops.web.cells import BACKUP_DAG_ID, duration, when

ARCHIVE_OFF = "WAL archiving off: no point-in-time recovery"


def recovery_section(recovery: Mapping[str, Any]) -> str:
    """The ``<section>`` of one database.

    :param recovery: the document of :func:`vectorops.web.recovery_status.recovery_health`.
    """
    drills, archive = recovery["drills"], recovery["archive"]
    lines = [("Last verified drill", "verified-drill", _verified(drills, archive))]
    last, verified = drills.get("last"), drills.get("verified")
    if last and (verified is None or last["drill_id"] != verified["drill_id"]):
        lines.append(("Last drill", "last-drill", _last(last)))
    lines += [("RPO achieved", "rpo", _rpo(verified, archive)), ("WAL archive", "wal-archive", _archive(archive))]
    rows = "".join(f'<tr><th>{name}</th><td class="{css}">{cell}</td></tr>' for name, css, cell in lines)
    return (f'<section id="recovery" data-database="{escape(str(recovery["database"]))}">'
            f'<h2>Point-in-time recovery of <code>{escape(str(recovery["database"]))}</code></h2>'
            f'<table class="recovery"><tbody>{rows}</tbody></table></section>')


def _verified(drills: Mapping[str, Any], archive: Mapping[str, Any]) -> str:
    state = drills["state"]
    if state == "no_table":
        return ('<span class="muted no-drills">no recovery drills recorded: this database has no '
                "<code>vectorops.recovery_drills</code> table (<code>vectorops db up</code> creates it)</span>")
    if state == "unreadable":
        return f'<span class="warn no-drills">unknown ({escape(str(drills["reason"]))})</span>'
    stale = f'<br><span class="fail stale">stale: {escape(drills["stale"])}</span>' if drills.get("stale") else ""
    v = drills.get("verified")
    if v is None:
        css = "muted" if archive["state"] == "off" else "warn"
        what = "no recovery drill yet" if state == "none" else "no recovery drill has passed yet"
        return (f'<span class="{css} no-drills">{what}: <code>{BACKUP_DAG_ID}</code> runs one after each verified '
                f"backup</span>{stale}")
    recovered = f" in {duration(v['recovery_seconds'])}" if v.get("recovery_seconds") is not None else ""
    chain = " + ".join(escape(str(label)) for label in v["base_backups"]) or "—"
    return (f'<span class="pass drill-status">passed</span> {when(v["finished_at"])}<br>'
            f'<span class="recovery-time">recovered{recovered} to {when(v["target_at"])}</span><br>'
            f'<span class="muted base-backups">from {chain}; backup {escape(str(v["backup_id"]))}</span>{stale}')


def _last(last: Mapping[str, Any]) -> str:
    status = str(last["status"])
    css = {"passed": "pass", "failed": "fail"}.get(status, "warn")
    error = f'<br><span class="muted drill-error">{escape(str(last["error"]))}</span>' if last.get("error") else ""
    return f'<span class="{css} drill-status">{escape(status)}</span> {when(last["finished_at"])}{error}'


def _rpo(verified: Mapping[str, Any] | None, archive: Mapping[str, Any]) -> str:
    drilled = verified.get("rpo_seconds") if verified else None
    parts = [f'<span class="rpo-drill">at the drill {duration(drilled)}</span>'] if drilled is not None else []
    now = archive.get("rpo_seconds")
    if now is not None:
        limit = archive.get("archive_timeout_s") or 0
        late = " warn" if limit and now > 2 * limit else ""  # a segment is closed every archive_timeout at the latest
        parts.append(f'<span class="rpo-now{late}">now {duration(now)}</span>')
    return ", ".join(parts) or '<span class="muted">—</span>'


#: WAL a slot may keep on the server while nothing receives it before the page marks it
SLOT_WARN_BYTES = 1 << 30


def _streams(a: Mapping[str, Any]) -> str:
    lines = []
    for stream in a.get("streams") or []:
        kept = int(stream["retained_bytes"] or 0)
        css = "pass" if stream["active"] else "warn" if kept > SLOT_WARN_BYTES else "muted"
        receiving = "receiving now" if stream["active"] else "no receiver now"
        lines.append(f'<span class="wal-stream {css}">streamed by pg_receivewal through slot '
                     f'{escape(str(stream["slot_name"]))}: {receiving}, {kept / 1e6:.0f} MB kept on the server for '
                     "it</span>")
    return "<br>".join(lines)


def _archive(a: Mapping[str, Any]) -> str:
    streams = _streams(a)
    if a["state"] == "streaming":
        return streams
    return _archiver(a) + (f"<br>{streams}" if streams else "")


def _archiver(a: Mapping[str, Any]) -> str:
    state = a["state"]
    if state == "off":
        return f'<span class="warn archive-off">{ARCHIVE_OFF}</span>'
    if state == "standby":
        return '<span class="muted archive-standby">a standby: its primary archives the WAL</span>'
    if state == "unknown":
        return f'<span class="warn archive-unknown">unknown ({escape(str(a["reason"]))})</span>'
    if state == "nothing_archived":
        return (f'<span class="warn archive-state">nothing archived yet</span><br>'
                f'<span class="muted">writing {escape(str(a["current_wal"]))}</span>')
    failing = (f'<span class="fail archive-failing">archiving fails: segment {escape(str(a["last_failed_wal"]))} '
               f'{when(a["last_failed_at"])}</span><br>') if state == "failing" else ""
    waiting = a.get("segments_waiting")
    css = "warn" if waiting else "pass"
    segments = "" if waiting is None else f'<span class="segments-waiting {css}">{waiting} segment(s) waiting</span>, '
    since = a.get("seconds_since_archive")
    return (f'{failing}{segments}<span class="since-archive">last archived '
            f'{duration(since) + " ago" if since is not None else "—"}</span><br>'
            f'<span class="muted wal-segments">archived {escape(str(a["last_archived_wal"]))}; writing '
            f'{escape(str(a["current_wal"]))}</span>')
