"""The benchmark corpus: N mails, deterministic, with the mix of issue 13.

- 60 % French questions (acknowledged, routed to a space's reviewers);
- 30 % subscriptions with a 5-row xlsx annex (acknowledged, routed to the subscription
  reviewers);
- 10 % auto-replies and bounces (never answered).

Mail `i` is always the same bytes (fixed Message-ID and Date); the senders alternate between
the test requesters, so the bench config raises the per-address cap of automatic answers.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from harness import annex_xlsx, compose
from mailservers import MailEnv

QUESTIONS = [
    "Quand le schéma des flux entre la CCSP et les collectivités sera-t-il publié ?",
    "Dans le cycle complet, qui envoie l'avis de paiement du FPS ?",
    "Quel décret fixe les modalités du recours administratif préalable obligatoire ?",
    "Bonjour, une question générale sur le portail : comment modifier mon adresse ?",
    "Comment l'ANTAI transmet-elle les FPS majorés au comptable public ?",
]
ANNEX_VARIANTS = 20
KINDS = ("question",) * 6 + ("subscription",) * 3 + ("other",)


@dataclass(frozen=True)
class Corpus:
    mails: list[bytes]
    answered: int  # questions and subscriptions: one acknowledgement each
    subscriptions: int


def _people(variant: int, domain: str) -> list[dict[str, str]]:
    return [
        {
            "Type de demandeur": "Collectivité",
            "Nom de la collectivité ou du prestataire": f"Commune de Banc-{variant}",
            "Collectivité représentée": "",
            "SIREN": "217500016",
            "Code INSEE": "75056",
            "Nom": f"Mesure{variant}",
            "Prénom": f"Agent{n}",
            "Fonction": "Responsable du stationnement",
            "Courriel": f"agent{n}.banc{variant}@{domain}",
            "Téléphone": "01 23 45 67 89",
            "Espace DESTA": "Oui",
            "Espace ANTAI": "Non",
        }
        for n in range(1, 6)
    ]


@cache
def annex(variant: int, domain: str) -> bytes:
    return annex_xlsx(_people(variant, domain))


def _auto_reply(sender: str, to: str, i: int) -> EmailMessage:
    return compose(
        sender,
        to,
        f"Réponse automatique : absent du bureau ({i})",
        "Je suis absent jusqu'au 4 janvier, sans accès à ma messagerie.",
        headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
    )


def _bounce(to: str, domain: str, i: int) -> bytes:
    """A delivery status notification (RFC 3464) from the mailer daemon."""
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@{domain}>\r\n"
        f"To: {to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <bench-{i}@{domain}>\r\n"
        "Date: Sat, 28 Nov 2026 10:00:00 +0100\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\n"
        f"This is the mail system. Your message {i} could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.{domain}\r\n\r\n"
        f"Final-Recipient: rfc822; inconnu{i}@{domain}\r\nAction: failed\r\n"
        "Status: 5.1.1\r\n--b--\r\n"
    ).encode()


def build(env: MailEnv, count: int) -> Corpus:
    bot = env.bot.address
    mails: list[bytes] = []
    answered = subscriptions = 0
    for i in range(count):
        sender = env.requesters[i % 2].address
        kind = KINDS[i % len(KINDS)]
        if kind == "question":
            text = f"{QUESTIONS[i % len(QUESTIONS)]}\n\nCordialement,\nDemandeur {i}"
            msg = compose(sender, bot, f"Question n° {i}", text)
            answered += 1
        elif kind == "subscription":
            msg = compose(
                sender,
                bot,
                f"Demande d'abonnement n° {i}",
                "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement",
                attachments=[
                    (
                        "annexe.xlsx",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        annex(i % ANNEX_VARIANTS, env.domain),
                    )
                ],
            )
            answered += 1
            subscriptions += 1
        elif i % 20 == 9:
            msg = _auto_reply(sender, bot, i)
        else:
            mails.append(_bounce(bot, env.domain, i))
            continue
        if "Message-ID" in msg:
            del msg["Message-ID"]
        msg["Message-ID"] = f"<bench-{i}@{env.domain}>"
        if "Date" not in msg:
            msg["Date"] = "Sat, 28 Nov 2026 10:00:00 +0100"
        mails.append(msg.as_bytes())
    return Corpus(mails, answered, subscriptions)
