"""What a replacement table changed: the people added, removed and changed, as the short French
list a reviewer reads in the notification.

People are matched by e-mail address (the annex's identity of a person: the same address twice
in one table is an error). Values are compared as parsed (a phone as E.164, spaces as a list)
so a different layout of the same data changes nothing; values shown are escaped
(`workflows.annex.formulas`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workflows.annex.formulas import escape_formula

# The compared fields and their French names (lower case, as they appear inside a sentence).
FIELD_NAMES: dict[str, str] = {
    "requester_type": "type de demandeur",
    "organisation": "collectivité ou prestataire",
    "on_behalf_of": "collectivité représentée",
    "siren": "SIREN",
    "insee_code": "code INSEE",
    "last_name": "nom",
    "first_name": "prénom",
    "job_title": "fonction",
    "phone": "téléphone",
    "spaces": "espaces demandés",
}


def _key(person: Mapping[str, Any]) -> str:
    return str(person.get("email") or "").strip().lower()


def _value(person: Mapping[str, Any], name: str) -> Any:
    value = person.get(name)
    if name == "spaces":
        return tuple(value or ("accueil",))
    if isinstance(value, str):
        return value.strip() or None
    return value


def _who(person: Mapping[str, Any]) -> str:
    name = " ".join(str(person.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    email = _key(person)
    return escape_formula(f"{name} <{email}>" if name else email)


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The French names of the fields whose value differs, in the table's column order."""
    return [label for name, label in FIELD_NAMES.items() if _value(old, name) != _value(new, name)]


def diff_people(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> list[str]:
    """One French line per person added, removed or changed (empty: the same people, the same
    values). Added and changed people in the order of the new table, then the removed ones in
    the order of the old one."""
    before = {_key(p): p for p in old}
    after = {_key(p): p for p in new}
    lines: list[str] = []
    for key, person in after.items():
        previous = before.get(key)
        if previous is None:
            lines.append(f"ajoutée : {_who(person)}")
            continue
        fields = changed_fields(previous, person)
        if fields:
            lines.append(f"modifiée : {_who(person)} ({', '.join(fields)})")
    lines.extend(f"retirée : {_who(p)}" for key, p in before.items() if key not in after)
    return lines
