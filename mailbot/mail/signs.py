"""The signs the classification rules look for: bounces, auto-replies, access requests.

The stdlib gives no signal for any of these (`notes/untrusted-input.md`): they are headers
defined by RFCs (3464, 3834, 2369, 2919, 5965, 8098) plus wording that real servers and mail
clients use in English, French and German. Wording is matched on folded text (lower-case, no
accents, straight apostrophes).
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from mailbot.mail.parse import ParsedMail
from workflows.text.fold import fold as fold_text

BODY_WINDOW = 6000  # characters of the body searched for wording


def fold(text: str) -> str:
    """`workflows.text.fold.fold`, with runs of white space as one space."""
    return re.sub(r"\s+", " ", fold_text(text))


def _words(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def bare_address(value: str) -> str:
    return parseaddr(value.replace("\r", " ").replace("\n", " "))[1].lower() or value.strip("<> ")


def is_own_address(address: str, generic: str) -> bool:
    """`generic` itself or one of its `local+anything@domain` sub-addresses, any case."""
    local, _, domain = address.strip().lower().rpartition("@")
    g_local, _, g_domain = generic.lower().rpartition("@")
    return bool(local) and domain == g_domain and local.partition("+")[0] == g_local


def _body(mail: ParsedMail) -> str:
    return fold(mail.text[:BODY_WINDOW])


# --------------------------------------------------------------------------- bounces

_BOUNCE_SUBJECT = _words(
    r"undeliver", r"undelivered", r"delivery status notification", r"delivery failure",
    r"delivery (?:has )?failed", r"failure notice", r"failed delivery", r"returned mail",
    r"returned to sender", r"return(?:ed)? receipt", r"mail delivery (?:failed|failure|error)",
    r"could not be delivered", r"not (?:been )?delivered", r"delivery notification",
    r"non-?deliver", r"delayed mail", r"delivery delayed", r"delivery (?:status|report)",
    r"could not send message", r"mail system error", r"message not delivered",
    r"bounce", r"rejected", r"nicht zustellbar", r"unzustellbar", r"zustellung fehlgeschlagen",
    r"non remis", r"non distribu", r"non delivre", r"echec de (?:la )?(?:remise|distribution|livraison)",
    r"remise impossible", r"impossible de remettre", r"notification d'etat de (?:la )?remise",
    r"rapport de non-?remise", r"message retourne", r"courrier retourne", r"returned message",
    r"delivery problem", r"permanent error", r"user unknown", r"mailbox (?:full|unavailable)",
    r"\bdelay(?:ed)?\b", r"mail fail(?:ed|ure)", r"returning to sender",
)  # fmt: skip
_BOUNCE_BODY = _words(
    r"\b[45]\.\d{1,3}\.\d{1,3}\b", r"\b5\d\d[ -]", r"permanent fatal error",
    r"following (?:address(?:es)?|recipient\(?s?\)?) (?:had|failed)",
    r"delivery to the following recipient", r"could not be delivered", r"was not delivered",
    r"user unknown", r"unknown user", r"no such (?:user|mailbox|recipient)",
    r"mailbox (?:unavailable|full|is full|not found)", r"this is the mail system at host",
    r"this is the qmail-send program", r"delivery has failed", r"undeliverable",
    r"message could not be delivered", r"returned to (?:the )?sender", r"recipient address rejected",
    r"n'a pas pu etre (?:remis|distribue|delivre)", r"la remise .{0,80} a echoue",
    r"adresse (?:introuvable|inconnue)", r"destinataire inconnu", r"echec de la remise",
    r"nicht zugestellt", r"konnte nicht zugestellt", r"delivery status notification",
    r"unable to deliver", r"delivery failed", r"host unknown", r"message delivery failure",
    r"did not reach (?:some or all of )?the (?:following|intended) recipient",
    r"(?:could not|cannot) be reached", r"n'a pas atteint (?:certains ou tous les|le|les) destinataire",
    r"n'a pas pu etre remis",
)  # fmt: skip
_DAEMON_LOCAL = re.compile(
    r"^(?:mailer-?daemon|mail-?daemon|post_?master|mail\.?delivery|mdaemon|bounces?|"
    r"mail\.?administrator|mailadmin|smtp|mailerdaemon|mail-?delivery-?subsystem)(?:[+.-].*)?$"
)
_DAEMON_NAME = _words(
    r"mail delivery (?:subsystem|system|service)", r"mailer[- ]daemon", r"postmaster",
    r"mail administrator", r"microsoft outlook", r"microsoft exchange", r"mail system",
    r"delivery status", r"systeme de messagerie", r"service de messagerie",
)  # fmt: skip


def delivery_report(mail: ParsedMail) -> bool:
    """RFC 3464 / RFC 6522: multipart/report; report-type=delivery-status, or a
    delivery-status part with recipient fields in the mail itself (gateways that rewrap the
    report in multipart/mixed). A bounce forwarded as an attachment does not count."""
    if mail.is_multipart_report and mail.report_type in (
        "delivery-status",
        "global-delivery-status",
    ):
        return True
    return bool(mail.delivery_recipients)


def feedback_report(mail: ParsedMail) -> bool:
    return mail.is_multipart_report and mail.report_type == "feedback-report"


def read_receipt(mail: ParsedMail) -> bool:
    return mail.is_multipart_report and mail.report_type == "disposition-notification"


def _bounce_wording(mail: ParsedMail) -> bool:
    return bool(_BOUNCE_SUBJECT.search(fold(mail.subject)) or _BOUNCE_BODY.search(_body(mail)))


def daemon_sender(mail: ParsedMail) -> bool:
    if mail.from_addr is None and "<>" in "".join(mail.headers.get_all("from")):
        return True  # `From: <>` or `From: MAILER-DAEMON <>`: a null sender
    local = (mail.from_addr or "").partition("@")[0]
    if _DAEMON_LOCAL.match(local):
        return True
    return bool(mail.from_name and _DAEMON_NAME.search(fold(mail.from_name)))


def daemon_bounce(mail: ParsedMail) -> bool:
    """From a mail system, with bounce wording: plain-text bounces (qmail, old Sendmail,
    Exchange in French) that carry no report part."""
    return daemon_sender(mail) and _bounce_wording(mail)


def null_sender_dsn(mail: ParsedMail) -> bool:
    return mail.return_path == "" and _bounce_wording(mail)


# --------------------------------------------------------------------------- auto-replies

_OOO_SUBJECT = _words(
    r"absen(?:ce|t|te) du bureau", r"reponse automatique", r"reponse auto\b",
    r"message d'absence", r"\babsence\b", r"\babsente?\b", r"en conges?\b",
    r"out of (?:the )?office", r"automatic reply", r"auto(?:matic)?[- ]?(?:reply|response)",
    r"autoreply", r"\bvacation\b", r"\baway (?:until|from|till)\b", r"on leave", r"\booo\b", r"abwesenheit", r"abwesend",
    r"automatische antwort", r"respuesta automatica", r"risposta automatica",
)  # fmt: skip
_OOO_BODY = _words(
    r"je suis (?:actuellement )?absente?", r"je serai absente?", r"actuellement absente?",
    r"je suis (?:actuellement )?en conges?", r"je serai en conges?",
    r"je n'aurai pas acces a (?:ma|mes) (?:messagerie|mails|courriels)",
    r"sans acces a (?:ma|mes) (?:messagerie|mails|courriels)",
    r"(?:de retour|je reviendrai|retour prevu) le", r"en cas d'urgence,? (?:merci de |veuillez )?contacter",
    r"i am (?:currently )?(?:out of (?:the )?office|away|on (?:annual )?leave|on vacation)",
    r"i'm (?:currently )?(?:out of (?:the )?office|away|on (?:annual )?leave|on vacation)",
    r"i will be (?:out of (?:the )?office|away)", r"limited access to (?:my )?e-?mail",
    r"will (?:be back|return) (?:on|to the office)", r"this is an automatic reply",
    r"ceci est une reponse automatique", r"ich bin (?:\w+ ){0,6}(?:abwesend|nicht im buro)",
)  # fmt: skip
_PRECEDENCE = re.compile(r"^\s*(?:bulk|junk|list|auto_reply)\b")


def auto_submitted(mail: ParsedMail) -> bool:
    """RFC 3834 §5.1: any value but `no` (parameters after `;` ignored)."""
    values = mail.headers.get_all("auto-submitted")
    return any(v.split(";")[0].strip().lower() not in ("no", "") for v in values)


def autoreply_header(mail: ParsedMail) -> bool:
    """Headers vacation responders add instead of (or besides) Auto-Submitted (iCloud:
    X-Apple-Action: VACATION). Outlook sets X-Auto-Response-Suppress on ordinary mail too:
    that header is never a sign."""
    names = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-vacation", "x-autogenerated")
    if any(name in mail.headers for name in names):
        return True
    return any("vacation" in v.lower() for v in mail.headers.get_all("x-apple-action"))


def precedence_bulk(mail: ParsedMail) -> bool:
    return any(_PRECEDENCE.match(v.lower()) for v in mail.headers.get_all("precedence"))


def list_traffic(mail: ParsedMail) -> bool:
    return "list-id" in mail.headers or "list-unsubscribe" in mail.headers


def out_of_office_subject(mail: ParsedMail) -> bool:
    return bool(_OOO_SUBJECT.search(fold(mail.subject)))


def out_of_office_body(mail: ParsedMail) -> bool:
    return bool(_OOO_BODY.search(fold(mail.text[:2000])))


def out_of_office(mail: ParsedMail) -> bool:
    """An out-of-office subject alone is not enough (a person may write « Absence du bureau
    de M. X » to us): it needs a second sign."""
    if not out_of_office_subject(mail):
        return False
    return (
        auto_submitted(mail)
        or autoreply_header(mail)
        or mail.return_path == ""
        or out_of_office_body(mail)
    )


def vacation_signs(mail: ParsedMail) -> bool:
    """Looks like a vacation responder rather than a bounce."""
    return autoreply_header(mail) or out_of_office_subject(mail) or out_of_office_body(mail)


# --------------------------------------------------------------------------- access requests

_ACCESS = _words(
    r"demande d'?abonnement", r"\babonnement (?:a|au|aux) (?:l'espace|l'extranet|la plateforme|portail)",
    r"(?:m'|nous |s'|vous )abonner", r"(?:souhaite|souhaiterais|souhaitons|voudrais|voudrions) (?:m'|nous )?abonner",
    r"(?:creer|creation|ouvrir|ouverture) (?:d'|de |des |un |une |mon |nos |notre |mes )?(?:\w+ ){0,2}comptes?\b"
    r"(?! rendus?| administratifs?| de gestion| financiers?| bancaires?| au tresor)",
    r"(?:acces|acceder) (?:au|a l'|a la) (?:portail|espace collectivites|extranet|plateforme)",
    r"demande d'acces", r"obtenir (?:un|des|mes|nos|les) (?:acces|identifiants|codes d'acces)",
    r"demande d'inscription", r"(?:m'|nous |me |vous )inscrire", r"inscription (?:au|a l'|a la|sur le) (?:portail|espace|extranet|plateforme)",
    r"identifiants? et (?:un |de |des |les |le |mon |nos |notre |leurs? )?mots? de passe", r"identifiants de connexion",
)  # fmt: skip


def asks_for_access(text: str) -> bool:
    return bool(text) and bool(_ACCESS.search(fold(text)))
