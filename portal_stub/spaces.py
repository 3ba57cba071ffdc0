"""The portal's three spaces, as the ministry describes them (shared/seed)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SpaceInfo:
    slug: str
    label: str
    title: str
    description: str


SPACE_INFO: dict[str, SpaceInfo] = {
    "accueil": SpaceInfo(
        "accueil",
        "Accueil",
        "Espace Accueil",
        "Les textes législatifs et réglementaires de la réforme de la décentralisation du "
        "stationnement payant, et les questions-réponses qui s’y rapportent.",
    ),
    "desta": SpaceInfo(
        "desta",
        "DESTA",
        "Espace DESTA",
        "Les schémas généraux de l’ensemble des processus du stationnement payant et les "
        "documents du projet de système d’information de la Commission du contentieux du "
        "stationnement payant (CCSP) : feuille de route, schémas d’architecture et des flux, "
        "contenu fonctionnel des interfaces, cahier des charges fonctionnel du SI CCSP.",
    ),
    "antai": SpaceInfo(
        "antai",
        "ANTAI",
        "Espace ANTAI",
        "Les modalités techniques, juridiques et financières selon lesquelles l’Agence "
        "nationale de traitement automatisé des infractions (ANTAI) propose aux collectivités "
        "territoriales une prestation de traitement des forfaits post-stationnement (FPS), de "
        "la collecte des données jusqu’à l’émission et l’envoi des avis de paiement.",
    ),
}

FREQUENCY_LABELS = {
    "immediate": "À chaque nouvelle publication",
    "daily": "Un récapitulatif quotidien",
    "none": "Aucune notification",
}


def space_label(slug: str) -> str:
    info = SPACE_INFO.get(slug)
    return info.label if info else slug


# The Espace documentaire: documents with this `space` and a folder below (`/documents`).
DOCUMENTAIRE = "documentaire"
DOCUMENT_FOLDERS = {
    "fiches": "Fiches pratiques du site",
    "modeles": "Modèles et formulaires",
}


def document_place_label(slug: str) -> str:
    """« Espace DESTA », « Espace documentaire — Fiches pratiques du site »…"""
    if slug.startswith(DOCUMENTAIRE + "/"):
        folder = slug.split("/", 1)[1]
        return f"Espace documentaire — {DOCUMENT_FOLDERS.get(folder, folder)}"
    info = SPACE_INFO.get(slug)
    return info.title if info else slug
