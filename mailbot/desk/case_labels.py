"""The French words of the case pages and of `mailbot cases`: what a mail template, a log
event, its fields and an admin's action are called for the admins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.labels import state_label

TEMPLATE_LABELS = {
    "invitation": "invitation (identifiant et mot de passe temporaire)",
    "invitation_new_spaces": "ouverture de nouveaux espaces",
    "invitation_reminder": "rappel d’invitation",
    "subscription_ack": "accusé de réception de la demande d’abonnement",
    "subscription_invalid": "tableau à corriger",
    "subscription_intent": "envoi du tableau à remplir",
    "subscription_notify": "notification de la demande à un relecteur",
    "subscription_requester_note": "message du demandeur transmis aux relecteurs",
    "subscription_reminder": "rappel à un relecteur",
    "subscription_escalation": "signalement aux administrateurs",
    "subscription_needs_info": "demande de complément",
    "subscription_refused": "refus de la demande",
    "subscription_result": "résultat de la demande",
    "question_ack": "accusé de réception de la question",
    "question_notify": "notification de la question à un relecteur",
    "question_answer": "réponse à la question",
    "question_cerema": "orientation vers le CEREMA",
    "question_closed": "question classée",
    "question_preview": "aperçu de la réponse retenue",
    "question_released": "réponse partie",
    "question_reminder": "rappel à un relecteur",
    "question_escalation": "signalement aux administrateurs",
    "review_confirmation": "confirmation au relecteur",
    "review_help": "mode d’emploi envoyé au relecteur",
    "review_already_decided": "dossier déjà traité (relecteur)",
    "third_party_note": "message d’un tiers",
}
EVENT_LABELS = {
    "case_opened": "Dossier ouvert",
    "state": "Changement d’état",
    "notification_sent": "Relecteurs notifiés",
    "reminder_sent": "Relance des relecteurs",
    "escalated": "Dossier signalé aux administrateurs",
    "reviewer_command": "Décision d’un relecteur",
    "reviewer_reply": "Réponse d’un relecteur",
    "review_help": "Aide envoyée au relecteur (rien n’a été décidé)",
    "decision_ignored": "Décision ignorée (dossier déjà décidé)",
    "accounts_requested": "Comptes demandés au portail",
    "subscription_refused": "Demande refusée",
    "info_requested": "Compléments demandés au demandeur",
    "invitation_sent": "Invitation envoyée",
    "invitation_reminder_sent": "Invitation relancée",
    "invitations_closed": "Invitations closes",
    "transferred": "Question transférée",
    "reassigned": "Dossier réaffecté",
    "answer_submitted": "Réponse rédigée",
    "answer_published": "Réponse publiée",
    "answer_mailed": "Réponse envoyée au demandeur",
    "answer_corrected": "Réponse corrigée",
    "answer_withdrawn": "Réponse retirée du portail",
    "correction_submitted": "Correction rédigée",
    "hold_ended": "Fin du délai de relecture",
    "hold_cancelled": "Réponse annulée pendant le délai",
    "hold_replaced": "Réponse remplacée pendant le délai",
    "hold_published_now": "Réponse envoyée sans attendre",
    "hold_refused": "Réponse refusée (un autre relecteur a la main)",
    "redirected_cerema": "Demandeur orienté vers le CEREMA",
    "case_closed": "Dossier classé",
    "delivery_failed": "Courriel non distribué",
    "portal_failed": "Échec d’une opération du portail",
    "portal_queued": "Opération du portail programmée",
    "desk_action": "Action d’un administrateur",
    "bounce_notice_sent": "Demandeur prévenu d’une invitation non distribuée",
    "invitation_resend_requested": "Nouvelle invitation demandée au portail",
    "invitation_resent": "Invitation renvoyée (nouveau mot de passe temporaire)",
    "invitation_not_resent": "Invitation non renvoyée (compte déjà utilisé)",
    "invitation_revoke_requested": "Révocation de l’invitation demandée au portail",
    "invitation_revoked": "Invitation révoquée",
    "annex_invalid": "Tableau à corriger (erreurs signalées au demandeur)",
    "subscription_intent": "Tableau à remplir envoyé au demandeur",
    "review_resumed": "Nouveau tableau transmis aux relecteurs",
    "requester_note": "Message du demandeur transmis aux relecteurs",
    "requester_mail_empty": "Message du demandeur sans contenu",
    "refusal_sent": "Message refusé, expéditeur prévenu",
    "accounts_missing": "Comptes absents du portail",
    "accounts_provisioned_ignored": "Création de comptes ignorée (dossier déjà avancé)",
    "answer_held": "Réponse retenue avant envoi",
    "answer_already_sent": "Réponse déjà envoyée (rien n’a été changé)",
    "asker_followup": "Message du demandeur transmis aux relecteurs",
    "asker_mail_empty": "Message du demandeur sans contenu",
    "followup_thanks": "Remerciements du demandeur",
    "follow_up_third_party": "Message d’un tiers transmis aux relecteurs",
    "follow_up_held": "Message mis en attente (trop de messages en une heure)",
    "follow_up_digest": "Messages en attente transmis en un envoi",
    "case_reopened": "Question rouverte par le demandeur",
    "case_closed_without_answer": "Dossier classé sans réponse",
    "republish_submitted": "Nouvelle publication demandée",
    "published_ignored": "Publication ignorée (dossier déjà avancé)",
    "reviewer_away": "Relecteur absent (réponse automatique)",
    "reviewer_auth_failed": "Réponse de relecteur refusée (authentification)",
    "timer_stale": "Échéance dépassée sans effet",
    "timer_unknown": "Échéance inconnue ignorée",
    "event_ignored": "Événement ignoré",
    "withdrawn": "Réponse retirée du portail",
    "invitation_new_spaces": "Nouveaux espaces ouverts, personne prévenue",
    "quarantine_alert": "Administrateurs prévenus d’un courriel mis en quarantaine",
    "own_address_alert": "Administrateurs prévenus d’un courriel venant de notre adresse",
}


REQUESTER_TYPES = {"collectivite": "Collectivité", "prestataire": "Prestataire"}


# The log fields worth showing the admins, in French (the others are technical).
FIELD_LABELS = {
    "verb": "décision",
    "people": "personnes",
    "reason": "motif",
    "problem": "problème",
    "from": "depuis",
    "to": "vers",
    "space": "espace",
    "group": "groupe",
    "reviewer": "relecteur",
    "action": "action",
    "version": "version",
    "url": "adresse",
    "outcome": "issue",
    "until": "jusqu’au",
    "template": "courriel",
    "recipient": "destinataire",
    "published": "publiée",
    "asker_mailed": "demandeur prévenu",
    "directives": "consignes",
    "person": "personne",
}
ACTION_LABELS = {
    "reassign": "réaffectation",
    "approve": "approbation",
    "refuse": "refus",
    "complete": "demande de complément",
    "answer": "réponse",
    "publish": "envoi immédiat",
    "cancel": "annulation",
    "close": "classement",
    "correct": "correction",
    "withdraw": "retrait",
    "notify_bounce": "demandeur prévenu",
    "resend_invitation": "invitation renvoyée",
    "revoke_invitation": "invitation révoquée",
}


def _value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "oui" if value else "non"
    if key == "action":
        return ACTION_LABELS.get(str(value), str(value))
    if key == "template":
        return TEMPLATE_LABELS.get(str(value), str(value))
    return str(value)


def event_text(event: str, data: Mapping[str, Any], kind: str) -> str:
    """The French summary of a case event's fields."""
    if event == "state":
        before, after = str(data.get("from", "")), str(data.get("to", ""))
        return f"{state_label(kind, before)} → {state_label(kind, after)}"
    shown = [
        f"{FIELD_LABELS[k]}\u00a0: {_value(k, v)}"
        for k, v in data.items()
        if k in FIELD_LABELS and v not in (None, "", "-")
    ]
    return " ; ".join(shown)
