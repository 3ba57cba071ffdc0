"""`mailbot demo`: the whole story played through the embedded local mail system.

Run `make run` in one terminal, then `mailbot demo` in another: a requester asks a question,
another mails a subscription annex, an auto-reply and a bounce arrive; the acknowledgements
come back; the subscription reviewer approves by replying; the invitations arrive; the
question's reviewer answers by replying, gets the preview of the held answer and replies
PUBLIER; the answer arrives and is published; the demo ends
with the portal address and the credentials of an invitee.
"""

from __future__ import annotations

import io
import re
import smtplib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Annotated

import typer
from imapclient import IMAPClient

from mailbot.config import Config, ConfigError, load_config
from mailbot.mail.compose import WIRE_POLICY

PERSONS = [
    (
        "Collectivité",
        "Ville de Démoville",
        "",
        "217500016",
        "75056",
        "Durand",
        "Claire",
        "Responsable du stationnement",
        "agent.stationnement@{d}",
        "01 23 45 67 89",
        "Oui",
        "Oui",
    ),
    (
        "Collectivité",
        "Ville de Démoville",
        "",
        "217500016",
        "75056",
        "Lefèvre",
        "Paul",
        "Chef de projet SI",
        "responsable.si@{d}",
        "0262 12 34 56",
        "Oui",
        "Non",
    ),
]


class Demo:
    def __init__(self, config: Config, timeout: float) -> None:
        self.config = config
        self.dm = config.devmail
        self.domain = self.dm.domain
        self.generic = config.instance.generic_address
        self.timeout = timeout
        self.tag = datetime.now(UTC).strftime("%H:%M:%S")

    # ------------------------------------------------------------------ mail plumbing

    def addr(self, local: str) -> str:
        return f"{local}@{self.domain}"

    def send(self, msg: EmailMessage, envelope_from: str | None = None) -> None:
        with smtplib.SMTP("127.0.0.1", self.dm.smtp_port, timeout=30) as smtp:
            smtp.send_message(
                msg,
                from_addr=envelope_from if envelope_from is not None else None,
                to_addrs=[self.generic],
            )

    def inbox(self, user: str) -> list[EmailMessage]:
        with IMAPClient("127.0.0.1", port=self.dm.imap_port, ssl=False, timeout=30) as client:
            client.login(user, self.dm.password)
            client.select_folder("INBOX", readonly=True)
            uids = client.search(["ALL"])
            data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            out = []
            for uid in sorted(data):
                msg = message_from_bytes(data[uid][b"BODY[]"], policy=policy.default)
                assert isinstance(msg, EmailMessage)
                out.append(msg)
            return out

    def wait_for(self, user: str, match: Callable[[EmailMessage], bool], what: str) -> EmailMessage:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for msg in self.inbox(user)[::-1]:
                if match(msg):
                    return msg
            time.sleep(0.5)
        raise TimeoutError(
            f"nothing arrived for {user} ({what}) within {self.timeout:.0f} s: "
            "is `make run` running?"
        )

    def new(self, sender: str, subject: str, body: str, name: str | None = None) -> EmailMessage:
        msg = EmailMessage(policy=WIRE_POLICY)  # long Message-IDs must stay raw when replying
        msg["From"] = f"{name} <{sender}>" if name else sender
        msg["To"] = self.generic
        msg["Subject"] = subject
        msg["Message-ID"] = make_msgid(domain=self.domain)
        msg["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        msg.set_content(body)
        return msg

    def reply(self, sender: str, original: EmailMessage, body: str) -> EmailMessage:
        """A reply quoting the original, as Outlook or Thunderbird would write it."""
        subject = str(original["Subject"] or "")
        msg = self.new(
            sender, subject if subject.lower().startswith("re") else f"RE: {subject}", ""
        )
        quoted = "\n".join("> " + line for line in _text(original).splitlines())
        msg.set_content(
            f"{body}\n\nLe {datetime.now(UTC):%d/%m/%Y}, {original['From']} a écrit :\n{quoted}\n"
        )
        mid = str(original["Message-ID"])
        msg["In-Reply-To"] = mid
        refs = str(original.get("References", "") or "").split()
        msg["References"] = " ".join([*refs, mid])
        return msg

    # ------------------------------------------------------------------ the story

    def run(self) -> None:
        say = typer.echo
        mairie, presta = self.addr("mairie"), self.addr("prestataire")
        say(f"1. {mairie} asks a question about the FPS processing service (ANTAI).")
        question = self.new(
            mairie,
            f"Question sur les avis de paiement ({self.tag})",
            "Bonjour,\n\nDans le cycle complet proposé par l'ANTAI, qui envoie "
            "l'avis de paiement du FPS à l'usager ?\n\nCordialement,\n"
            "Sophie Bernard\nMairie de Démoville",
            name="Sophie Bernard",
        )
        self.send(question)
        say(f"2. {presta} mails the annex for two people.")
        sub = self.new(
            presta,
            f"Demande d'abonnement au portail ({self.tag})",
            "Bonjour,\n\nVeuillez trouver ci-joint le tableau de demande d'abonnement."
            "\n\nCordialement,\nMarc Petit",
            name="Marc Petit",
        )
        sub.add_attachment(
            self.annex(),
            maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename="annexe-abonnement.xlsx",
        )
        self.send(sub)
        say("3. An out-of-office auto-reply arrives (it gets no answer), and a question from an")
        say("   address that does not exist: our acknowledgement bounces back to us.")
        ooo = self.new(
            mairie,
            "Réponse automatique : absente du bureau",
            "Je suis absente jusqu'au lundi 7 décembre.",
        )
        ooo["Auto-Submitted"] = "auto-replied"
        self.send(ooo)
        ghost = self.new(
            "ancien.agent@commune-disparue.example",
            f"Question sur le décret ({self.tag})",
            "Bonjour, quel décret fixe le montant du forfait post-stationnement ?",
        )
        self.send(ghost)
        ack_q = self.wait_for(mairie, lambda m: _answers(m, question), "acknowledgement")
        say(f"   → {mairie} received: {ack_q['Subject']}")
        ack_s = self.wait_for(presta, lambda m: _answers(m, sub), "acknowledgement")
        say(f"   → {presta} received: {ack_s['Subject']}")
        ref_s = _ref(str(ack_s["Subject"]))
        ref_q = _ref(str(ack_q["Subject"]))

        reviewer = self.config.reviewers.groups[
            self.config.group_for("subscription") or ""
        ].members[0]
        notif = self.wait_for(reviewer, lambda m: ref_s in str(m["Subject"]), "notification")
        say(f"4. {reviewer} got the notification «{notif['Subject']}» and replies APPROUVER.")
        self.send(self.reply(reviewer, notif, "APPROUVER\n\nCordialement,\nLe relecteur"))
        for person in PERSONS:
            invitee = person[8].format(d=self.domain)
            inv = self.wait_for(invitee, lambda m: ref_s in str(m["Subject"]), "invitation")
            say(f"   → {invitee} received: {inv['Subject']}")
        q_members = [m for g in self.config.reviewers.groups.values() for m in g.members]
        notif_q, q_reviewer = self.find_notification(q_members, ref_q)
        say(f"5. {q_reviewer} got «{notif_q['Subject']}» and answers by replying.")
        self.send(
            self.reply(
                q_reviewer,
                notif_q,
                "Dans le cycle complet, l'ANTAI édite et envoie l'avis de paiement "
                "à l'usager pour le compte de la collectivité.\n\n"
                "Bien cordialement,\nLe relecteur ANTAI",
            )
        )
        if self.config.questions.publish_delay_minutes > 0:
            preview = self.wait_for(
                q_reviewer, lambda m: ref_q in str(m["Subject"]) and "Aperçu" in str(m["Subject"]),
                "preview",
            )  # fmt: skip
            say(f"   → {q_reviewer} got the preview «{preview['Subject']}» and replies PUBLIER.")
            self.send(self.reply(q_reviewer, preview, "PUBLIER"))
        answer = self.wait_for(
            mairie,
            lambda m: ref_q in str(m["Subject"]) and "édite et envoie" in _text(m),
            "answer",
        )
        say(f"   → {mairie} received the answer: {answer['Subject']}")
        first = PERSONS[0][8].format(d=self.domain)
        inv = self.wait_for(first, lambda m: ref_s in str(m["Subject"]), "invitation")
        password = _password(_text(inv))
        say("\n6. The portal: log in as an invitee, change the password, read the answer.")
        say(f"   {self.config.portal.base_url}/connexion")
        say(f"   identifiant : {first}")
        say(f"   mot de passe temporaire : {password or '(see the invitation mail)'}")
        say(
            f"   Mail client: IMAP 127.0.0.1:{self.dm.imap_port}, user {first}, "
            f"password {self.dm.password!r}."
        )

    def find_notification(self, members: list[str], ref: str) -> tuple[EmailMessage, str]:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for member in dict.fromkeys(members):
                for msg in self.inbox(member):
                    if ref in str(msg["Subject"]):
                        return msg, member
            time.sleep(0.5)
        raise TimeoutError(f"no reviewer notification for {ref}")

    def annex(self) -> bytes:
        # Imported here: the CLI imports this module at start-up; openpyxl loads only for the demo.
        from openpyxl import load_workbook  # noqa: PLC0415

        from mailbot.annex.template import build_template  # noqa: PLC0415

        wb = load_workbook(io.BytesIO(build_template()))
        ws = wb["Demande"]
        header_row = next(
            r
            for r in range(1, 20)
            if str(ws.cell(r, 1).value or "").startswith("Type de demandeur")
        )
        for i, person in enumerate(PERSONS, start=1):
            for col, value in enumerate(person, start=1):
                ws.cell(header_row + i, col, value.format(d=self.domain) if value else None)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    return str(part.get_content()) if part is not None else ""


def _answers(msg: EmailMessage, original: EmailMessage) -> bool:
    return str(msg.get("In-Reply-To", "")) == str(original["Message-ID"])


def _ref(subject: str) -> str:
    match = re.search(r"(Q|ABO)-\d{4}-\d{6}", subject)
    if not match:
        raise ValueError(f"no case reference in {subject!r}")
    return match.group(0)


def _password(text: str) -> str | None:
    match = re.search(r"[Mm]ot de passe (?:temporaire|provisoire)\s*:\s*(\S+)", text)
    return match.group(1) if match else None


def demo(
    config_path: Annotated[Path, typer.Option("--config", "-c")] = Path("config.toml"),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each mail.")] = 60.0,
) -> None:
    """Play the whole story through the local mail system started by `make run`."""
    try:
        config = load_config(config_path)
    except ConfigError as err:
        typer.echo(f"Configuration error: {err}", err=True)
        raise typer.Exit(2) from None
    if not config.devmail.enabled:
        typer.echo("The demo needs the embedded mail system ([devmail] enabled = true).", err=True)
        raise typer.Exit(2)
    try:
        Demo(config, timeout).run()
    except (OSError, TimeoutError) as err:
        typer.echo(f"Demo stopped: {err}", err=True)
        raise typer.Exit(1) from None
