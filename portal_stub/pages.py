"""The pages people read: the three spaces with their documents and Q&A, search, the
Espace documentaire with its practical guides, and notification preferences."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from sqlmodel import Session, col, select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal_stub.models import (
    FREQUENCIES,
    PortalDocument,
    PortalNotificationPreference,
    PortalPublication,
)
from portal_stub.search import MAX_QUERY_CHARS, search_publication_ids
from portal_stub.service import current_publication, frequency_of, readable_spaces
from portal_stub.spaces import DOCUMENT_FOLDERS, DOCUMENTAIRE
from portal_stub.web import (
    current_account,
    flash,
    form_endpoint,
    form_text,
    redirect,
    render,
    require_account,
    require_space,
    state,
)

MAX_LISTED = 200
MAX_RESULTS = 30


def home(request: Request) -> Response:
    with state(request).db() as session:
        account = current_account(request, session)
    return redirect("/espaces/accueil" if account else "/connexion")


def _visible_publications(session: Session, spaces: list[str]) -> list[PortalPublication]:
    return list(
        session.exec(
            select(PortalPublication)
            .where(
                col(PortalPublication.space).in_(spaces),
                col(PortalPublication.is_current),
                col(PortalPublication.withdrawn_at).is_(None),
            )
            .order_by(col(PortalPublication.published_at).desc(), col(PortalPublication.id).desc())
            .limit(MAX_LISTED)
        ).all()
    )


def _search(session: Session, query: str, spaces: list[str]) -> list[PortalPublication]:
    found = []
    for pub_id, _score in search_publication_ids(session.connection(), query, spaces, MAX_RESULTS):
        pub = session.get(PortalPublication, pub_id)
        if pub is not None:
            found.append(pub)
    return found


def space_page(request: Request) -> Response:
    space = request.path_params["space"]
    query = request.query_params.get("q", "")[:MAX_QUERY_CHARS].strip()
    with state(request).db() as session:
        account = require_account(request, session)
        require_space(account, space)
        documents = session.exec(
            select(PortalDocument)
            .where(PortalDocument.space == space)
            .order_by(col(PortalDocument.uploaded_at).desc())
        ).all()
        results = _search(session, query, [space]) if query else None
        context = {
            "space": space,
            "documents": documents,
            "publications": _visible_publications(session, [space]),
            "query": query,
            "results": results,
        }
        return render(request, "space.html", context, account=account)


def question_page(request: Request) -> Response:
    space, case_ref = request.path_params["space"], request.path_params["case_ref"]
    with state(request).db() as session:
        account = require_account(request, session)
        require_space(account, space)
        pub = current_publication(session, case_ref)
        if pub is None:
            raise HTTPException(404)
        if pub.space != space:  # moved to another space by a later version
            require_space(account, pub.space)
            return RedirectResponse(f"/espaces/{pub.space}/questions/{quote(case_ref)}", 301)
        if pub.withdrawn_at is not None:
            raise HTTPException(410)
        history = session.exec(
            select(PortalPublication)
            .where(PortalPublication.case_ref == case_ref)
            .order_by(col(PortalPublication.version))
        ).all()
        base = state(request).config.portal.base_url
        context = {
            "space": space,
            "pub": pub,
            "history": history,
            "permalink": f"{base}/espaces/{space}/questions/{case_ref}",
        }
        return render(request, "question.html", context, account=account)


def document_download(request: Request) -> Response:
    space = request.path_params["space"]
    with state(request).db() as session:
        account = require_account(request, session)
        require_space(account, space)
        doc = session.get(PortalDocument, request.path_params["doc_id"])
        if doc is None or doc.space != space:
            raise HTTPException(404)
        return attachment(doc)


def attachment(doc: PortalDocument) -> Response:
    """A document as a download, never rendered in the portal's origin (RFC 6266 for the
    name)."""
    ascii_name = doc.filename.encode("ascii", "replace").decode().replace('"', "_")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(doc.filename)}"
    return Response(
        doc.data, media_type=doc.content_type, headers={"Content-Disposition": disposition}
    )


def search_page(request: Request) -> Response:
    query = request.query_params.get("q", "")[:MAX_QUERY_CHARS].strip()
    with state(request).db() as session:
        account = require_account(request, session)
        results = _search(session, query, readable_spaces(account)) if query else []
        context = {"query": query, "results": results}
        return render(request, "search.html", context, account=account)


def documents_page(request: Request) -> Response:
    """The Espace documentaire: its folders (the practical guides, then what admins uploaded);
    readable without signing in."""
    with state(request).db() as session:
        account = current_account(request, session)
        docs = session.exec(
            select(PortalDocument)
            .where(PortalDocument.space == DOCUMENTAIRE)
            .order_by(col(PortalDocument.title))
        ).all()
        folders = [
            (slug, label, [d for d in docs if d.folder == slug])
            for slug, label in DOCUMENT_FOLDERS.items()
        ]
        return render(request, "documents.html", {"folders": folders}, account=account)


def folder_document_download(request: Request) -> Response:
    with state(request).db() as session:
        doc = session.get(PortalDocument, request.path_params["doc_id"])
        if doc is None or doc.space != DOCUMENTAIRE:
            raise HTTPException(404)
        return attachment(doc)


def guide_page(template: str) -> Callable[[Request], Response]:
    def page(request: Request) -> Response:
        # Readable without signing in: the invitation mail links to the guides, which the
        # person needs before their first login.
        with state(request).db() as session:
            account = current_account(request, session)
        return render(request, template, account=account)

    return page


def accessibility_page(request: Request) -> Response:
    with state(request).db() as session:
        account = current_account(request, session)
    return render(request, "accessibilite.html", account=account)


def notifications_page(request: Request) -> Response:
    with state(request).db() as session:
        account = require_account(request, session)
        choices = {s: frequency_of(session, account, s) for s in readable_spaces(account)}
        return render(request, "notifications.html", {"choices": choices}, account=account)


def save_notifications(request: Request, form: FormData) -> Response:
    portal = state(request)
    with portal.db() as session:
        account = require_account(request, session)
        for space in readable_spaces(account):
            wanted = form_text(form, f"frequence_{space}", 20)
            if wanted not in FREQUENCIES:
                continue
            pref = session.get(PortalNotificationPreference, (account.id, space))
            if pref is not None and pref.frequency == wanted:
                continue
            assert account.id is not None
            pref = pref or PortalNotificationPreference(account_id=account.id, space=space)
            pref.frequency, pref.updated_at = wanted, portal.now()
            session.add(pref)
    flash(request, "Vos préférences de notification ont été enregistrées.")
    return redirect("/compte/notifications")


routes = [
    Route("/", home, methods=["GET"]),
    Route("/recherche", search_page, methods=["GET"]),
    Route("/espaces/{space}", space_page, methods=["GET"]),
    Route("/espaces/{space}/questions/{case_ref}", question_page, methods=["GET"]),
    Route("/espaces/{space}/documents/{doc_id:int}", document_download, methods=["GET"]),
    Route("/documents", documents_page, methods=["GET"]),
    Route("/documents/fichiers/{doc_id:int}", folder_document_download, methods=["GET"]),
    Route("/documents/fiches/mot-de-passe", guide_page("guide_password.html"), methods=["GET"]),
    Route("/documents/fiches/mini-guide", guide_page("guide_navigation.html"), methods=["GET"]),
    Route("/accessibilite", accessibility_page, methods=["GET"]),
    Route("/compte/notifications", notifications_page, methods=["GET"]),
    Route("/compte/notifications", form_endpoint(save_notifications), methods=["POST"]),
]
