"""The people of a subscription request: rows of the annex table, how mails show them, and
what the portal is asked to create."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from workflows.annex.diff import diff_people
from workflows.annex.formulas import escape_formula, escape_optional
from workflows.casework import iso, spaces_label, subscription_record
from workflows.core import CaseView, Context, PersonRequest
from workflows.records import Person

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


def people_from_rows(rows: Sequence[Mapping[str, Any]]) -> tuple[Person, ...]:
    """The people of a usable annex table (`rows` of `mailbot annex parse --json`), numbered
    in order from 1."""
    return tuple(
        Person.from_json({**row, "number": number}) for number, row in enumerate(rows, start=1)
    )


def person_view(person: Person, ctx: Context) -> dict[str, Any]:
    """A person as mails show them, with what a reviewer should notice."""
    email = person.email
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
        "number": person.number,
        # cells as written, shown escaped: no formula a reader could paste into a spreadsheet
        "first_name": escape_formula(person.first_name or ""),
        "last_name": escape_formula(person.last_name or ""),
        "email": escape_formula(email),
        "organisation": escape_formula(person.organisation or ""),
        "requester_type_label": _REQUESTER_TYPES.get(str(person.requester_type), ""),
        "on_behalf_of": escape_optional(person.on_behalf_of),
        "siren": person.siren,
        "insee_code": person.insee_code,
        "job_title": escape_optional(person.job_title),
        "phone": person.phone,
        "spaces_label": spaces_label(person.spaces or ("accueil",)),
        "existing_account": existing,
        "open_request": other_case,
        "personal_mailbox": personal,
        "notable": bool(existing or other_case or personal),
    }


def table_changes(old: Sequence[Person], new: Sequence[Person]) -> list[str]:
    """What a replacement table changed, one French line per person (`workflows.annex.diff`)."""
    return diff_people([p.to_json() for p in old], [p.to_json() for p in new])


def person_request(person: Person) -> PersonRequest:
    return PersonRequest(
        email=person.email,
        first_name=person.first_name or "",
        last_name=person.last_name or "",
        organisation=person.organisation or "",
        spaces=person.spaces or ("accueil",),
        job_title=person.job_title,
        phone=person.phone,
        on_behalf_of=person.on_behalf_of,
    )


def review_summary(case: CaseView, ctx: Context) -> dict[str, Any]:
    """What a reminder, an escalation or a reassignment shows of a request under review."""
    data = subscription_record(case)
    people = data.people
    return {
        "requester": case.requester,
        "requester_name": case.requester_name,
        "subject": case.subject,
        "received_at": data.table_received_at or iso(case.created_at),
        "people_count": len(people),
        "people": [person_view(p, ctx) for p in people],
    }
