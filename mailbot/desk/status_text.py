"""`mailbot status` in French for the admins: states by their French names (the desk's), the
outbox and the journal in words, Paris-free durations. `--json` keeps the stored names."""

from __future__ import annotations

from typing import Any

from workflows.labels import kind_label, state_label

OUTBOX_LABELS = {
    "pending": "en attente d’envoi",
    "sending": "en cours d’envoi",
    "sent": "envoyés",
    "failed": "en échec",
    "bounced": "revenus non distribués",
}
JOURNAL_LABELS = {
    "received": "reçus, en cours de traitement",
    "processed": "traités",
    "ignored": "ignorés (réponses automatiques, non-remises…)",
    "quarantined": "en quarantaine",
    "replay": "à rejouer",
    "deleted": "supprimés de la quarantaine",
}
_WIDTH = 52


def duration(seconds: int) -> str:
    minutes, secs = divmod(max(0, seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _case_label(key: str) -> str:
    kind, _, state = key.partition(":")
    return f"{kind_label(kind)} — {state_label(kind, state)}"


def backlog_line(waiting: dict[str, Any]) -> str:
    age = waiting["oldest_pending_age_seconds"]
    oldest = f", le plus ancien depuis {duration(age)}" if age is not None else ""
    expired = waiting["sending_lease_expired"]
    stuck = f" ({expired} au-delà de leur délai, renvoyés au prochain passage)" if expired else ""
    return (
        f"  file d’attente : {waiting['pending']} en attente{oldest} ; "
        f"{waiting['sending']} en cours d’envoi{stuck}"
    )


def instance_lines(instance: dict[str, Any]) -> list[str]:
    lines = ["Instance :"]
    active = instance["active"]
    if active is None:
        lines.append("  active      aucune pour l’instant")
    else:
        lapsed = " (bail expiré)" if active["expired"] else ""
        age = duration(round(active["heartbeat_age_seconds"]))
        lines.append(f"  active      {active['holder']}  dernier signe de vie il y a {age}{lapsed}")
    for entry in instance["standby"]:
        age = duration(round(entry["heartbeat_age_seconds"]))
        lines.append(f"  en attente  {entry['holder']}  dernier signe de vie il y a {age}")
    return lines


def status_lines(report: dict[str, Any]) -> list[str]:
    """The report of `mailbot status`, as the lines an admin reads."""
    lines = ["Dossiers :"]
    cases = sorted(report["cases"].items(), key=lambda item: _case_label(item[0]))
    lines += [f"  {_case_label(key):{_WIDTH}} {n}" for key, n in cases] or ["  aucun"]
    lines.append("Courriels sortants :")
    for key, n in sorted(report["outbox"].items()):
        lines.append(f"  {OUTBOX_LABELS.get(key, key):{_WIDTH}} {n}")
    lines.append(backlog_line(report["outbox_backlog"]))
    lines.append("Courriels reçus (journal) :")
    journal = sorted(report["journal"].items())
    lines += [f"  {JOURNAL_LABELS.get(k, k):{_WIDTH}} {n}" for k, n in journal] or ["  aucun"]
    return lines + instance_lines(report["instance"])
