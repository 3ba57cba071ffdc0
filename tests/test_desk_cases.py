"""The desk's « Dossiers » over HTTP, on a database filled by the real workflows (mail through
Dovecot and the SMTP relay): the list's filters and search, the case page, and each action as
the signed-in admin — refused without the form's CSRF token, logged `by=<admin>`, shown in the
timeline, and carried out by the same workflow events as a reviewer's mail."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Bot, body_text, make_bot
from mailservers import MailEnv, wait_for_messages
from sqlmodel import Session
from starlette.testclient import TestClient
from test_cases_cli_e2e import ask, only_case, subscribe

from mailbot.desk.app import create_desk_app
from portal_stub.models import PortalAccount
from portal_stub.service import StubPortal
from portal_stub.testing import cheap_hasher

pytestmark = pytest.mark.integration
PASSWORD = "une phrase de passe solide"
BASE = "http://127.0.0.1:8999"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
QUESTION = "Bonjour, où trouver le schéma des flux de l'interface CCSP ?"


@dataclass
class Desk:
    bot: Bot
    client: TestClient
    admin: str

    def token(self, path: str = "/admin") -> str:
        found = _CSRF.search(self.client.get(path).text)
        assert found, path
        return found.group(1)

    def post(self, path: str, with_token: bool = True, **data: str):  # type: ignore[no-untyped-def]
        if with_token:
            data["csrf_token"] = self.token()
        return self.client.post(path, data=data, follow_redirects=False)

    def log(self) -> str:
        return "\n".join(self.bot.log_lines())


def open_desk(bot: Bot) -> Desk:
    admin = bot.env.admin.address
    with Session(bot.engine) as session:
        session.add(
            PortalAccount(
                email=admin,
                first_name="Alice",
                last_name="Admin",
                spaces=["accueil"],
                password_hash=cheap_hasher().hash(PASSWORD),
                must_change_password=False,
                created_at=datetime.now(UTC) - timedelta(days=30),
            )
        )
        session.commit()
    portal = StubPortal(bot.engine, BASE, hasher=cheap_hasher())
    app = create_desk_app(bot.config, bot.engine, lambda _s: portal)
    client = TestClient(app, base_url=BASE)
    desk = Desk(bot, client, admin)
    data = {"csrf_token": desk.token("/admin/connexion"), "identifiant": admin}
    response = client.post(
        "/admin/connexion", data={**data, "mot_de_passe": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return desk


def new_bot(env: MailEnv, **overrides: object) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-desk-cases-"))
    return make_bot(env, f"sqlite:///{workdir}/mailbot.db", workdir, **overrides)


@pytest.fixture
def desk(mail_env: MailEnv) -> Desk:
    return open_desk(new_bot(mail_env))


def refs_on(page: str) -> list[str]:
    return re.findall(r'<td><a href="/admin/dossiers/([A-Z]+-\d{4}-\d{6})">', page)


def test_the_list_filters_searches_and_links_every_case(desk: Desk) -> None:
    abo = subscribe(desk.bot)
    q = ask(desk.bot, "Flux CCSP", QUESTION)
    page = desk.client.get("/admin/dossiers").text
    assert refs_on(page) == [q, abo]
    assert "En attente de relecture" in page and "En attente de réponse" in page
    assert "under_review" not in page.split("<tbody>")[1]
    assert refs_on(desk.client.get("/admin/dossiers?nature=subscription").text) == [abo]
    assert refs_on(desk.client.get("/admin/dossiers?etat=open").text) == [q]
    assert refs_on(desk.client.get("/admin/dossiers?espace=desta").text) == [q]
    desta = desk.bot.env.reviewers["desta"].address
    assert refs_on(desk.client.get(f"/admin/dossiers?relecteur={desta}").text) == [q]
    assert refs_on(desk.client.get("/admin/dossiers?en_retard=1").text) == []
    assert refs_on(desk.client.get("/admin/dossiers?q=Testville").text) == [abo]
    assert refs_on(desk.client.get("/admin/dossiers?q=sch%C3%A9ma").text) == [q]
    assert refs_on(desk.client.get(f"/admin/dossiers?q={abo}").text) == [abo]
    none = desk.client.get("/admin/dossiers?q=introuvable").text
    assert "Aucun dossier ne correspond à ces critères." in none
    # the overview links to the cases, with their French state
    overview = desk.client.get("/admin").text
    assert f'href="/admin/dossiers/{abo}"' in overview and "En attente de relecture" in overview


def test_the_case_page_shows_mails_events_annex_and_people(desk: Desk) -> None:
    ref = subscribe(desk.bot)
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert f"<h1>Dossier {ref}</h1>" in page
    assert "Courriel reçu" in page and "Veuillez trouver ci-joint notre tableau" in page
    assert "Courriel envoyé\u00a0: notification de la demande à un relecteur" in page
    assert "décision\u00a0: APPROUVER" not in page  # nothing decided yet
    assert "Dossier ouvert" in page and "Relecteurs notifiés" in page
    assert "Changement d’état" in page and "Reçu → En attente de relecture" in page
    assert '<th scope="col">SIREN</th>' in page and "217500016" in page
    assert "Durand" in page and "aucun compte" in page
    for action in ("approuver", "refuser", "completer", "reaffecter"):
        assert f'action="/admin/dossiers/{ref}/{action}"' in page
    assert desk.client.get("/admin/dossiers/ABO-2026-999999").status_code == 404


def test_an_action_without_the_form_token_is_refused_and_changes_nothing(desk: Desk) -> None:
    ref = subscribe(desk.bot)
    response = desk.post(f"/admin/dossiers/{ref}/approuver", with_token=False)
    assert response.status_code == 403 and "Le formulaire n’a pas pu être vérifié" in response.text
    response = desk.client.post(
        f"/admin/dossiers/{ref}/approuver", data={"csrf_token": "faux"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert only_case(desk.bot, "subscription").state == "under_review"
    assert "desk_action" not in desk.log()
    # and a stranger (no session) is sent to the login page
    stranger = TestClient(desk.client.app, base_url=BASE)
    response = stranger.post(f"/admin/dossiers/{ref}/approuver", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/connexion"


def test_approving_from_the_desk_is_a_reviewer_decision_by_the_admin(desk: Desk) -> None:
    ref = subscribe(desk.bot)
    response = desk.post(f"/admin/dossiers/{ref}/approuver", personnes="")
    assert response.status_code == 303 and response.headers["location"] == f"/admin/dossiers/{ref}"
    assert only_case(desk.bot, "subscription").state == "approved"
    assert f"reviewer_command  verb=APPROUVER by={desk.admin}" in desk.log()
    assert f"desk_action  action=approve by={desk.admin}" in desk.log()
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert "La demande est approuvée" in page  # the flash
    assert (
        "Action d’un administrateur" in page and f'par <span class="desk-wrap">{desk.admin}' in page
    )
    desk.bot.run_once()
    desk.bot.run_once()
    assert only_case(desk.bot, "subscription").state == "invited"
    assert "envoyée" in desk.client.get(f"/admin/dossiers/{ref}").text


def test_refusing_needs_a_reason_and_then_tells_the_requester(desk: Desk) -> None:
    ref = subscribe(desk.bot)
    desk.post(f"/admin/dossiers/{ref}/refuser", texte="  ")
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert "Rien n’a été fait. Indiquez le motif du refus." in page
    assert only_case(desk.bot, "subscription").state == "under_review"
    desk.post(f"/admin/dossiers/{ref}/refuser", texte="Le SIREN ne correspond à aucune commune.")
    assert only_case(desk.bot, "subscription").state == "refused"
    desk.bot.run_once()
    mails = desk.bot.env.wait_for(desk.bot.env.requesters[0], count=2)
    assert any("Le SIREN ne correspond à aucune commune." in body_text(m) for m in mails)


def test_asking_to_complete_from_the_desk(desk: Desk) -> None:
    ref = subscribe(desk.bot)
    desk.post(f"/admin/dossiers/{ref}/completer", texte="La délibération du conseil municipal.")
    assert only_case(desk.bot, "subscription").state == "needs_info"
    assert f"info_requested  by={desk.admin}" in desk.log()


def test_reassigning_from_the_desk_notifies_the_reviewer_chosen(desk: Desk) -> None:
    ref = ask(desk.bot, "Flux CCSP", QUESTION)
    antai = desk.bot.env.reviewers["antai"]
    desk.post(f"/admin/dossiers/{ref}/reaffecter", relecteur=antai.address, note="Pour vous.")
    case = only_case(desk.bot, "question")
    assert (case.group, case.assignee) == ("antai", antai.address)
    assert f"reviewer={antai.address} by={desk.admin}" in desk.log()
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert "Le dossier a été réaffecté" in page and "Dossier réaffecté" in page
    desk.bot.run_once()
    [notified] = desk.bot.env.wait_for(antai)
    assert "Pour vous." in body_text(notified)
    desk.post(f"/admin/dossiers/{ref}/reaffecter", groupe="inconnu")
    assert (
        "Le groupe «\u00a0inconnu\u00a0» n’existe pas"
        in desk.client.get(f"/admin/dossiers/{ref}").text
    )


def test_an_answer_from_the_desk_is_held_previewed_then_sent_now(mail_env: MailEnv) -> None:
    desk = open_desk(new_bot(mail_env, **{"questions.publish_delay_minutes": 15}))
    ref = ask(desk.bot, "Flux CCSP", QUESTION)
    answer = "Bonjour,\n\nLe schéma est dans l'espace documentaire DESTA.\n\nCordialement"
    desk.post(f"/admin/dossiers/{ref}/repondre", texte=answer, espace="desta")
    assert only_case(desk.bot, "question").state == "held"
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert "Réponse en attente de publication" in page and "espace documentaire DESTA" in page
    assert f'action="/admin/dossiers/{ref}/publier"' in page
    desk.bot.run_once()
    [preview] = desk.bot.env.wait_for(desk.bot.env.admin)
    assert ref in str(preview["Subject"]) and "espace documentaire DESTA" in body_text(preview)
    desk.post(f"/admin/dossiers/{ref}/publier")
    assert only_case(desk.bot, "question").state == "publishing"
    assert f"hold_published_now  by={desk.admin}" in desk.log()


def test_closing_a_question_without_an_answer(desk: Desk) -> None:
    ref = ask(desk.bot, "Flux CCSP", QUESTION)
    desk.post(f"/admin/dossiers/{ref}/classer", texte="")
    case = only_case(desk.bot, "question")
    assert case.state == "answered" and case.closed_at is not None
    assert f"desk_action  action=close by={desk.admin}" in desk.log()
    assert "Répondu, clos" in desk.client.get(f"/admin/dossiers/{ref}").text


def test_a_bounced_invitation_is_offered_to_the_requester_once(desk: Desk) -> None:
    ref = subscribe(desk.bot, ("durand", "absent"), no_mailbox=1)
    desk.post(f"/admin/dossiers/{ref}/approuver")
    for _ in range(3):  # accounts, invitations, the relay's refusal for the missing mailbox
        desk.bot.run_once()
    absent = next(p for p in only_case(desk.bot, "subscription").data["people"] if p["number"] == 2)
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert "Invitation non distribuée" in page and absent["email"] in page
    assert f'action="/admin/dossiers/{ref}/prevenir"' in page
    desk.post(f"/admin/dossiers/{ref}/prevenir", personne=absent["email"])
    assert f"bounce_notice_sent  to={desk.bot.env.requesters[0].address}" in desk.log()
    assert f"person={absent['email']} by={desk.admin}" in desk.log()
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert "le demandeur a été prévenu" in page
    assert f'action="/admin/dossiers/{ref}/prevenir"' not in page
    desk.bot.run_once()
    mails = desk.bot.env.wait_for(desk.bot.env.requesters[0], count=3)
    notice = [m for m in mails if "n'a pas pu être remise" in str(m["Subject"])]
    assert len(notice) == 1 and absent["email"] in body_text(notice[0])
    # the same person again sends nothing new; someone whose invitation arrived is refused
    desk.post(f"/admin/dossiers/{ref}/prevenir", personne=absent["email"])
    durand = next(p for p in only_case(desk.bot, "subscription").data["people"] if p["number"] == 1)
    desk.post(f"/admin/dossiers/{ref}/prevenir", personne=durand["email"])
    assert "Aucune invitation non distribuée" in desk.client.get(f"/admin/dossiers/{ref}").text
    desk.bot.run_once()
    mails = desk.bot.env.wait_for(desk.bot.env.requesters[0], count=3)
    assert sum("n'a pas pu être remise" in str(m["Subject"]) for m in mails) == 1


def _passwords(bot: Bot, address: str, count: int) -> list[str]:
    mails = wait_for_messages(bot.env.dovecot, address, "pw-invitee", "INBOX", count)
    found = [re.search(r"Mot de passe temporaire : (\S+)", body_text(m)) for m in mails]
    return [m.group(1) for m in found if m]


def test_resending_then_revoking_an_invitation(desk: Desk) -> None:
    ref = subscribe(desk.bot, ("durand",))
    desk.post(f"/admin/dossiers/{ref}/approuver")
    desk.bot.run_once()
    desk.bot.run_once()
    email = only_case(desk.bot, "subscription").data["people"][0]["email"]
    [first] = _passwords(desk.bot, email, 1)
    portal = StubPortal(desk.bot.engine, BASE, hasher=cheap_hasher())
    assert portal.check_login(email, first)
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert f'action="/admin/dossiers/{ref}/renvoyer"' in page
    desk.post(f"/admin/dossiers/{ref}/renvoyer", personne=email)
    assert f"invitation_resend_requested  to={email} by={desk.admin}" in desk.log()
    desk.bot.run_once()  # the portal issues the new password, the mail goes out
    desk.bot.run_once()
    passwords = _passwords(desk.bot, email, 2)
    assert len(passwords) == 2 and passwords[0] != passwords[1]
    second = passwords[1] if passwords[0] == first else passwords[0]
    assert portal.check_login(email, second) and not portal.check_login(email, first)
    assert (
        "Invitation renvoyée (nouveau mot de passe temporaire)"
        in desk.client.get(f"/admin/dossiers/{ref}").text
    )
    assert second not in "\n".join(desk.bot.log_lines())
    desk.post(f"/admin/dossiers/{ref}/revoquer", personne=email)
    desk.bot.run_once()
    assert not portal.check_login(email, second)
    case = only_case(desk.bot, "subscription")
    assert case.state == "closed" and case.data["invitations"][email]["status"] == "revoked"
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert (
        "révoquée" in page
        and f"desk_action  action=revoke_invitation by={desk.admin}" in desk.log()
    )


def test_cancelling_a_held_answer_from_the_desk(mail_env: MailEnv) -> None:
    desk = open_desk(new_bot(mail_env, **{"questions.publish_delay_minutes": 15}))
    ref = ask(desk.bot, "Flux CCSP", QUESTION)
    desk.post(f"/admin/dossiers/{ref}/repondre", texte="Bonjour,\n\nVoir l'espace DESTA.")
    desk.post(f"/admin/dossiers/{ref}/annuler")
    assert only_case(desk.bot, "question").state == "open"
    assert f"hold_cancelled  by={desk.admin}" in desk.log()
    assert "La réponse en attente est annulée." in desk.client.get(f"/admin/dossiers/{ref}").text


def test_correcting_withdrawing_and_republishing_an_answer_from_the_desk(desk: Desk) -> None:
    ref = ask(desk.bot, "Flux CCSP", QUESTION)
    desk.post(f"/admin/dossiers/{ref}/repondre", texte="Bonjour,\n\nVoir l'espace DESTA.")
    desk.bot.run_once()  # published at once (no hold in this configuration), then mailed
    assert only_case(desk.bot, "question").state == "answered"
    desk.post(f"/admin/dossiers/{ref}/corriger", texte="Bonjour,\n\nVoir la fiche « Flux ».")
    assert f"correction_submitted  by={desk.admin}" in desk.log()
    desk.bot.run_once()
    desk.post(f"/admin/dossiers/{ref}/retirer", texte="")
    assert f"answer_withdrawn  by={desk.admin}" in desk.log()
    desk.bot.run_once()
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert "retirée du portail" in page and f'action="/admin/dossiers/{ref}/republier"' in page
    desk.post(f"/admin/dossiers/{ref}/republier")
    desk.bot.run_once()
    data = only_case(desk.bot, "question").data
    assert [p["version"] for p in data["publications"]] == [1, 2, 3]
    page = desk.client.get(f"/admin/dossiers/{ref}").text
    assert "Version 3 publiée" in page and "Republier la réponse" not in page
