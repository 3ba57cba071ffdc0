"""The desk's « Dossiers » in Chromium, on cases the real workflows made (mail through
Dovecot): the list and its filters, a case's page, one action (an approval for the reviewer),
all also at 390 px wide with nothing overlapping; screenshots for docs/screenshots/."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import Bot, make_bot
from mailservers import MailEnv
from playwright.sync_api import Page, expect
from portal_browser import chromium, desk_login, free_port, screenshot, serve_portal
from sqlmodel import Session
from test_cases_cli_e2e import ask, only_case, subscribe

from portal_stub.models import PortalAccount
from portal_stub.testing import cheap_hasher

pytestmark = pytest.mark.integration
PASSWORD = "une phrase de passe solide"

# Visible boxes of the page's content that must not overlap one another (nested elements,
# e.g. a link inside a heading, are not compared with their ancestors).
OVERLAPS_JS = """
() => {
  const selector = 'main h1, main h2, main p, main a, main button, main input, main select,'
    + ' main textarea, main label, main legend, main th, main td, main dt, main dd, main summary';
  const boxes = [];
  for (const el of document.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (r.width < 1 || r.height < 1 || style.visibility === 'hidden') continue;
    if (el.closest('.fr-table')) continue;  // tables scroll inside their own frame
    boxes.push([el, r]);
  }
  const found = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (w > 2 && h > 2) found.push(a.outerHTML.slice(0, 80) + ' / ' + b.outerHTML.slice(0, 80));
    }
  }
  return {overlaps: found.slice(0, 10), scroll: document.documentElement.scrollWidth,
          width: window.innerWidth};
}
"""


def assert_nothing_overlaps(page: Page) -> None:
    result: dict[str, Any] = page.evaluate(OVERLAPS_JS)
    assert result["overlaps"] == [], result["overlaps"]
    assert result["scroll"] <= result["width"], "the page scrolls sideways"


def desk_bot(env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-desk-browser-"))
    port = free_port()
    bot = make_bot(
        env,
        f"sqlite:///{workdir}/mailbot.db",
        workdir,
        **{"portal.base_url": f"http://127.0.0.1:{port}", "portal.listen_port": port},
    )
    with Session(bot.engine) as session:
        session.add(
            PortalAccount(
                email=env.admin.address,
                first_name="Alice",
                last_name="Admin",
                spaces=["accueil"],
                password_hash=cheap_hasher().hash(PASSWORD),
                must_change_password=False,
                created_at=datetime.now(UTC) - timedelta(days=30),
            )
        )
        session.commit()
    return bot


def test_cases_list_page_and_an_approval_in_chromium(
    mail_env: MailEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILBOT_PORTAL_SECRET", "portal-secret-for-tests-0123456789")
    bot = desk_bot(mail_env)
    abo = subscribe(bot)
    q = ask(bot, "Flux CCSP", "Bonjour, où trouver le schéma des flux de l'interface CCSP ?")
    admin = mail_env.admin.address
    with serve_portal(bot.config, bot.engine, hasher=cheap_hasher()) as base, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
        desk_login(page, base, admin, PASSWORD)
        page.get_by_role("link", name="Dossiers", exact=True).click()
        page.wait_for_url(f"{base}/admin/dossiers")
        expect(page.get_by_role("heading", level=1)).to_have_text("Dossiers")
        expect(page.get_by_role("link", name=abo)).to_be_visible()
        expect(page.get_by_role("link", name=q)).to_be_visible()
        screenshot(page, "dossiers")
        page.get_by_label("Nature").select_option("subscription")
        page.get_by_role("button", name="Filtrer").click()
        page.wait_for_url(f"{base}/admin/dossiers?*")
        expect(page.get_by_role("link", name=q)).to_have_count(0)
        page.get_by_role("link", name=abo).click()
        page.wait_for_url(f"{base}/admin/dossiers/{abo}")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Dossier {abo}")
        expect(page.get_by_role("heading", name="Annexe «\u00a0annexe.xlsx\u00a0»")).to_be_visible()
        page.locator("summary", has_text="Demande d'abonnement au portail").first.click()
        expect(page.locator("details[open] pre").first).to_contain_text(
            "Veuillez trouver ci-joint notre tableau"
        )
        screenshot(page, "dossier-abonnement")
        page.get_by_label("Personnes approuvées").fill("1")
        page.get_by_role("button", name="Approuver", exact=True).click()
        page.wait_for_url(f"{base}/admin/dossiers/{abo}")
        expect(page.get_by_role("status")).to_contain_text("La demande est approuvée")
        expect(page.get_by_text("Action d’un administrateur").first).to_be_visible()
        screenshot(page, "dossier-action")
        page.goto(f"{base}/admin/dossiers/{q}")
        expect(page.get_by_role("button", name="Répondre")).to_be_visible()
        screenshot(page, "dossier-question")

        narrow = browser.new_page(viewport={"width": 390, "height": 844}, locale="fr-FR")
        desk_login(narrow, base, admin, PASSWORD)
        for path, name in (
            ("/admin/dossiers", "dossiers-390"),
            (f"/admin/dossiers/{abo}", "dossier-abonnement-390"),
            (f"/admin/dossiers/{q}", "dossier-question-390"),
        ):
            narrow.goto(f"{base}{path}")
            assert_nothing_overlaps(narrow)
            screenshot(narrow, name)
    case = only_case(bot, "subscription")
    assert case.state == "approved"
    assert any(f"desk_action  action=approve by={admin}" in line for line in bot.log_lines())
