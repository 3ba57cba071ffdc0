"""The people of a subscription request: rows of the annex table, how mails show them, and
what the portal is asked to create."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workflows.casework import spaces_label
from workflows.core import Context, PersonRequest

_PERSONAL_DOMAINS = frozenset(
    "gmail.com yahoo.fr yahoo.com hotmail.fr hotmail.com outlook.fr outlook.com live.fr "
    "orange.fr wanadoo.fr free.fr sfr.fr laposte.net icloud.com protonmail.com".split()
)
_REQUESTER_TYPES = {"collectivite": "Collectivité", "prestataire": "Prestataire"}


def table_is_usable(annex: Mapping[str, Any]) -> bool:
    """A table with people and no error at all (a faulty row blocks the whole request: the
    requester sends the corrected table, so reviewers always judge one complete list)."""
    return not annex.get("error") and not annex.get("errors") and bool(annex.get("rows"))


def errors_by_row(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Annex errors grouped by row number, rows in order, cells in the order reported."""
    grouped: dict[int, list[dict[str, Any]]] = {}
    for err in errors:
        row = int(err.get("row") or 0)
        grouped.setdefault(row, []).append(
            {
                "column": err.get("column") or err.get("field") or "",
                "value": "" if err.get("value") is None else str(err.get("value")),
                "message": err.get("message") or "",
            }
        )
    return [{"row": row, "errors": grouped[row]} for row in sorted(grouped)]


def people_from_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    keys = (
        "row",
        "requester_type",
        "organisation",
        "on_behalf_of",
        "siren",
        "insee_code",
        "last_name",
        "first_name",
        "job_title",
        "email",
        "phone",
    )
    people = []
    for number, row in enumerate(rows, start=1):
        person = {k: row.get(k) for k in keys}
        person["email"] = str(row.get("email") or "").strip().lower()
        person["spaces"] = list(row.get("spaces") or ["accueil"])
        person["number"] = number
        people.append(person)
    return people


def person_view(person: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """A person as mails show them, with what a reviewer should notice."""
    email = str(person.get("email") or "")
    account = ctx.existing_accounts.get(email)
    existing = None
    if account is not None:
        existing = {
            "organisation": account.organisation,
            "spaces_label": spaces_label(account.spaces),
        }
    other_case = ctx.open_requests.get(email)
    personal = email.rpartition("@")[2] in _PERSONAL_DOMAINS
    return {
        "number": person.get("number"),
        "first_name": person.get("first_name") or "",
        "last_name": person.get("last_name") or "",
        "email": email,
        "organisation": person.get("organisation") or "",
        "requester_type_label": _REQUESTER_TYPES.get(str(person.get("requester_type")), ""),
        "on_behalf_of": person.get("on_behalf_of"),
        "siren": person.get("siren"),
        "insee_code": person.get("insee_code"),
        "job_title": person.get("job_title"),
        "phone": person.get("phone"),
        "spaces_label": spaces_label(person.get("spaces") or ["accueil"]),
        "existing_account": existing,
        "open_request": other_case,
        "personal_mailbox": personal,
        "notable": bool(existing or other_case or personal),
    }


def person_request(person: Mapping[str, Any]) -> PersonRequest:
    return PersonRequest(
        email=str(person["email"]),
        first_name=str(person.get("first_name") or ""),
        last_name=str(person.get("last_name") or ""),
        organisation=str(person.get("organisation") or ""),
        spaces=tuple(person.get("spaces") or ["accueil"]),
        job_title=person.get("job_title"),
        phone=person.get("phone"),
        on_behalf_of=person.get("on_behalf_of"),
    )
