"""`DocumentAdmin`: the admin's calls on documents (`mailbot.portal.Portal`): the places
(the three spaces, then the folders of the Espace documentaire), list, add, replace, remove.

The caller checks what it hands over (type sniffed from the content, size, a clean file name:
the desk's upload checks); the stand-in stores it. `add_document` and `replace_document` run
once per idempotency key (a form sent twice adds one document).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy.orm import QueryableAttribute, defer
from sqlmodel import Session, col, select

from mailbot.portal import DocumentInfo, DocumentPlace, UnknownDocument
from portal_stub.models import PortalDocument
from portal_stub.spaces import DOCUMENT_FOLDERS, DOCUMENTAIRE, document_place_label
from portal_stub.store import PortalStore
from workflows.core import SPACES


def place_of(doc: PortalDocument) -> str:
    return f"{DOCUMENTAIRE}/{doc.folder}" if doc.space == DOCUMENTAIRE else doc.space


def split_place(place: str) -> tuple[str, str | None]:
    """`desta` → ("desta", None); `documentaire/fiches` → ("documentaire", "fiches")."""
    if place in SPACES:
        return place, None
    head, _, folder = place.partition("/")
    if head == DOCUMENTAIRE and folder in DOCUMENT_FOLDERS:
        return DOCUMENTAIRE, folder
    raise ValueError(f"unknown place {place!r}")


def document_url(base_url: str, doc: PortalDocument) -> str:
    if doc.space == DOCUMENTAIRE:
        return f"{base_url}/documents/fichiers/{doc.id}"
    return f"{base_url}/espaces/{doc.space}/documents/{doc.id}"


class DocumentAdmin(PortalStore):
    def _info(self, doc: PortalDocument) -> DocumentInfo:
        assert doc.id is not None
        return DocumentInfo(
            id=doc.id,
            place=place_of(doc),
            title=doc.title,
            filename=doc.filename,
            content_type=doc.content_type,
            size=doc.size,
            uploaded_at=doc.uploaded_at,
            url=document_url(self.base_url, doc),
        )

    def document_places(self) -> list[DocumentPlace]:
        slugs = [*SPACES, *(f"{DOCUMENTAIRE}/{f}" for f in DOCUMENT_FOLDERS)]
        return [DocumentPlace(s, document_place_label(s)) for s in slugs]

    def list_documents(self, place: str | None = None) -> list[DocumentInfo]:
        # Only the columns a listing needs: never the files' bytes.
        query = (
            select(PortalDocument)
            .options(defer(cast(QueryableAttribute[Any], PortalDocument.data)))
            .order_by(col(PortalDocument.uploaded_at).desc(), col(PortalDocument.id).desc())
        )
        if place is not None:
            space, folder = split_place(place)
            query = query.where(PortalDocument.space == space, PortalDocument.folder == folder)
        with self._reading() as session:
            return [self._info(d) for d in session.exec(query).all()]

    def add_document(
        self,
        place: str,
        title: str,
        filename: str,
        content_type: str,
        data: bytes,
        key: str,
        by: str,
    ) -> DocumentInfo:
        space, folder = split_place(place)
        with self._writing() as session:
            done = self._done(session, key, "add_document", place[:20])
            if done is not None:
                return self._info(_existing(session, int(done.result["id"])))
            doc = PortalDocument(
                space=space,
                folder=folder,
                title=title.strip() or filename,
                filename=filename,
                content_type=content_type,
                size=len(data),
                data=data,
                uploaded_at=self._now(),
                uploaded_by=by,
            )
            session.add(doc)
            session.flush()
            self._record(session, key, "add_document", place[:20], {"id": doc.id, "by": by})
            return self._info(doc)

    def replace_document(
        self, doc_id: int, filename: str, content_type: str, data: bytes, key: str, by: str
    ) -> DocumentInfo:
        with self._writing() as session:
            doc = _existing(session, doc_id)
            ref = f"document:{doc_id}"
            if self._done(session, key, "replace_document", ref) is None:
                doc.filename = filename
                doc.content_type = content_type
                doc.data = data
                doc.size = len(data)
                doc.uploaded_at = self._now()
                doc.uploaded_by = by
                session.add(doc)
                self._record(session, key, "replace_document", ref, {"by": by})
            return self._info(doc)

    def remove_document(self, doc_id: int, key: str, by: str) -> None:
        with self._writing() as session:
            ref = f"document:{doc_id}"
            if self._done(session, key, "remove_document", ref) is not None:
                return
            doc = session.get(PortalDocument, doc_id)
            if doc is not None:
                session.delete(doc)
            self._record(session, key, "remove_document", ref, {"by": by})


def _existing(session: Session, doc_id: int) -> PortalDocument:
    doc = session.get(PortalDocument, doc_id)
    if doc is None:
        raise UnknownDocument(doc_id)
    return doc
