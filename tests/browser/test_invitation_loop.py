"""The whole loop in a browser: an answer published by a reviewer's reply, a subscription
approved by reply, the invitation taken out of the invitee's Dovecot mailbox, and its
credentials used in Chromium to log in, choose a password, find the answer by search and
change a notification preference."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from harness import annex_xlsx, body_text, compose, make_bot, person, reply_to, submit
from mailservers import MailEnv, wait_for_messages
from playwright.sync_api import expect
from portal_browser import chromium, free_port, login_and_change_password, serve_portal
from sqlmodel import Session, select

from portal_stub.models import PortalAccount, PortalNotificationPreference

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ANSWER = "Dans le cycle complet, l'ANTAI envoie l'avis de paiement à l'usager."


def test_invitation_from_the_mailbox_logs_in_and_finds_the_published_answer(
    mail_env: MailEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBOT_PORTAL_SECRET", "portal-secret-for-tests-0123456789")
    env = mail_env
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-loop-"))
    port = free_port()
    bot = make_bot(
        env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{"portal.base_url": f"http://127.0.0.1:{port}", "portal.listen_port": port},
    )
    alice = env.requesters[0]
    # 1. A question on the FPS answered by the ANTAI reviewer: published in ANTAI.
    question = compose(
        alice.address,
        env.bot.address,
        "Avis de paiement en cycle complet",
        "Bonjour, qui envoie l'avis de paiement du FPS en cycle complet ?",
    )
    submit(env, question)
    bot.run_once()
    [notif] = env.wait_for(env.reviewers["antai"])
    reviewer = env.reviewers["antai"].address
    submit(env, reply_to(notif, reviewer, ANSWER))
    bot.run_once()
    # 2. A subscription for one person with ANTAI, approved by reply.
    invitee = person(env, "invitee", **{"Espace ANTAI": "Oui"})
    env.dovecot.add_user(invitee["Courriel"], "pw-invitee")
    request = compose(
        alice.address,
        env.bot.address,
        "Demande d'abonnement",
        "Ci-joint.",
        attachments=[("annexe.xlsx", XLSX, annex_xlsx([invitee]))],
    )
    submit(env, request)
    bot.run_once()
    [sub_notif] = env.wait_for(env.reviewers["abonnements"])
    approver = env.reviewers["abonnements"].address
    submit(env, reply_to(sub_notif, approver, "APPROUVER"))
    bot.run_once()
    # 3. The invitation, out of the invitee's mailbox.
    [invitation] = wait_for_messages(env.dovecot, invitee["Courriel"], "pw-invitee", "INBOX", 1)
    text = body_text(invitation)
    login_url = re.search(r"Adresse du portail : (\S+)", text).group(1)  # type: ignore[union-attr]
    identifier = re.search(r"Identifiant : (\S+)", text).group(1)  # type: ignore[union-attr]
    password = re.search(r"Mot de passe temporaire : (\S+)", text).group(1)  # type: ignore[union-attr]
    assert login_url == f"http://127.0.0.1:{port}/connexion"
    new_password = "Un mot de passe bien long 2026"
    with serve_portal(bot.config, bot.engine) as base, chromium() as browser:
        assert login_url.startswith(base)
        page = browser.new_page(locale="fr-FR")
        login_and_change_password(page, base, identifier, password, new_password)
        page.goto(f"{base}/espaces/antai")
        search = page.get_by_label("Rechercher dans les questions-réponses de cet espace")
        search.fill("avis de paiement cycle complet")
        search.press("Enter")
        page.get_by_role("link", name=re.compile("avis de paiement", re.I)).first.click()
        expect(page.get_by_text("l'ANTAI envoie l'avis de paiement", exact=False)).to_be_visible()
        page.goto(f"{base}/compte/notifications")
        antai = page.get_by_role("group", name="Espace ANTAI")
        antai.get_by_text("À chaque nouvelle publication").click()
        page.get_by_role("button", name="Enregistrer mes préférences").click()
        expect(page.get_by_role("status")).to_contain_text("préférences de notification")
    with Session(bot.engine) as session:
        account = session.exec(select(PortalAccount).where(PortalAccount.email == identifier)).one()
        assert not account.must_change_password
        pref = session.get(PortalNotificationPreference, (account.id, "antai"))
        assert pref is not None and pref.frequency == "immediate"
