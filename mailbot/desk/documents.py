"""The desk's « Documents » pages: the documents of each space and of each folder of the
Espace documentaire (`Portal.document_places`), upload, replace and remove. Files are checked
(`mailbot.desk.uploads`: type sniffed from the content, extension, size, name) before they
reach the portal; every action is a CSRF-checked form with an idempotency key, logged with the
admin (`by=`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailbot.desk.accounts import KEY_FIELD, form_key
from mailbot.desk.audit import action_key, log_admin_action
from mailbot.desk.uploads import ACCEPTED_TEXT, UploadRefused, check_upload
from mailbot.desk.web import (
    PREFIX,
    DeskState,
    error_page,
    flash,
    form_endpoint,
    form_text,
    redirect,
    render,
    signed_in_admin,
    state,
)
from mailbot.portal import DocumentInfo, Portal, UnknownDocument

DOCUMENTS = f"{PREFIX}/documents"
FILE_FIELD = "fichier"
MULTIPART_SLACK = 64 * 1024  # the form's other fields and the multipart boundaries


def _portal(desk: DeskState) -> Portal:
    with desk.db() as session:
        return desk.portal(session)


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}".removesuffix(".0").replace(".", ",") + " Mo"
    return f"{max(1, round(size / 1024))} Ko"


def _find(portal: Portal, doc_id: int) -> DocumentInfo:
    for doc in portal.list_documents():
        if doc.id == doc_id:
            return doc
    raise HTTPException(404)


def _context(desk: DeskState) -> dict[str, object]:
    return {
        "key_field": KEY_FIELD,
        "new_key": lambda: action_key("desk"),
        "file_field": FILE_FIELD,
        "accepted": ACCEPTED_TEXT,
        "max_size": size_text(desk.config.limits.document_max_bytes),
        "size_text": size_text,
    }


def documents_page(request: Request) -> Response:
    desk = state(request)
    portal = _portal(desk)
    places = portal.document_places()
    docs = portal.list_documents()
    sections = [(p, [d for d in docs if d.place == p.slug]) for p in places]
    chosen = request.query_params.get("lieu", "")
    context = {**_context(desk), "sections": sections, "places": places, "chosen": chosen}
    return render(request, "documents.html", context)


def document_page(request: Request) -> Response:
    desk = state(request)
    portal = _portal(desk)
    doc = _find(portal, request.path_params["doc_id"])
    labels = {p.slug: p.label for p in portal.document_places()}
    context = {**_context(desk), "doc": doc, "place_label": labels.get(doc.place, doc.place)}
    return render(request, "document.html", context)


def _checked(request: Request, form: FormData) -> tuple[str, str, bytes]:
    """The uploaded file, checked: (file name, content type, bytes)."""
    upload = form.get(FILE_FIELD)
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise UploadRefused("Choisissez le fichier à publier.")
    limit = state(request).config.limits.document_max_bytes
    data = upload.file.read(limit + 1)
    checked = check_upload(upload.filename, data, limit)
    return checked.filename, checked.content_type, checked.data


def add(request: Request, form: FormData) -> Response:
    desk = state(request)
    admin = signed_in_admin(request) or "?"
    place = form_text(form, "lieu", 40)
    title = " ".join(form_text(form, "titre", 300).split())
    back = f"{DOCUMENTS}?lieu={place}#ajout"
    try:
        filename, content_type, data = _checked(request, form)
        doc = _portal(desk).add_document(
            place, title or filename, filename, content_type, data, form_key(form), admin
        )
    except UploadRefused as refused:
        flash(request, str(refused), "error")
        return redirect(back)
    except ValueError:  # an unknown place, or a stale form's key
        flash(request, "Choisissez où publier le document, puis recommencez.", "error")
        return redirect(back)
    log_admin_action(
        desk.config, "document_added", admin, document=doc.id, place=place, file=doc.filename
    )
    flash(request, f"Le document « {doc.title} » est publié ({doc.filename}).")
    return redirect(f"{DOCUMENTS}#lieu-{place.replace('/', '-')}")


def replace(request: Request, form: FormData) -> Response:
    desk = state(request)
    admin = signed_in_admin(request) or "?"
    doc_id = request.path_params["doc_id"]
    page = f"{DOCUMENTS}/{doc_id}"
    try:
        filename, content_type, data = _checked(request, form)
        doc = _portal(desk).replace_document(
            doc_id, filename, content_type, data, form_key(form), admin
        )
    except UnknownDocument:
        raise HTTPException(404) from None
    except UploadRefused as refused:
        flash(request, str(refused), "error")
        return redirect(page)
    except ValueError:
        flash(request, "Ce formulaire a déjà servi : rechargez la page et recommencez.", "error")
        return redirect(page)
    log_admin_action(desk.config, "document_replaced", admin, document=doc_id, file=filename)
    flash(request, f"Le fichier du document « {doc.title} » est remplacé par {doc.filename}.")
    return redirect(page)


def remove(request: Request, form: FormData) -> Response:
    desk = state(request)
    admin = signed_in_admin(request) or "?"
    doc_id = request.path_params["doc_id"]
    portal = _portal(desk)
    doc = _find(portal, doc_id)
    try:
        portal.remove_document(doc_id, form_key(form), admin)
    except ValueError:
        flash(request, "Ce formulaire a déjà servi : rechargez la page et recommencez.", "error")
        return redirect(f"{DOCUMENTS}/{doc_id}")
    log_admin_action(desk.config, "document_removed", admin, document=doc_id, file=doc.filename)
    flash(request, f"Le document « {doc.title} » est retiré du portail.")
    return redirect(DOCUMENTS)


def upload_endpoint(
    handler: Callable[[Request, FormData], Response],
) -> Callable[[Request], Awaitable[Response]]:
    """`form_endpoint` for a file: a body announced larger than the limit is refused before it
    is read (413), and a body without a length is refused (411)."""
    inner = form_endpoint(handler)

    async def endpoint(request: Request) -> Response:
        limit = state(request).config.limits.document_max_bytes + MULTIPART_SLACK
        length = request.headers.get("content-length", "")
        if not length.isdigit():
            return error_page(request, 400, "Le fichier n’a pas pu être reçu : recommencez.")
        if int(length) > limit:  # refused unread, and nothing is changed
            max_size = size_text(state(request).config.limits.document_max_bytes)
            text = f"Le fichier est trop volumineux : {max_size} au plus. Revenez en arrière "
            return error_page(request, 413, text + "et choisissez un fichier plus petit.")
        return await inner(request)

    return endpoint


routes = [
    Route(DOCUMENTS, documents_page, methods=["GET"]),
    Route(DOCUMENTS, upload_endpoint(add), methods=["POST"]),
    Route(f"{DOCUMENTS}/{{doc_id:int}}", document_page, methods=["GET"]),
    Route(f"{DOCUMENTS}/{{doc_id:int}}/remplacer", upload_endpoint(replace), methods=["POST"]),
    Route(f"{DOCUMENTS}/{{doc_id:int}}/supprimer", form_endpoint(remove), methods=["POST"]),
]
