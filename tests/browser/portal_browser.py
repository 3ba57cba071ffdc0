"""Reusable pieces for browser tests of the portal: serve it (with the admin's desk under
/admin, as `mailbot run` does in the embedded default), drive Chromium, sign in.

Import from a test in this folder as `from portal_browser import …` (pytest puts the folder on
`sys.path`). Chromium is Debian's (`/usr/bin/chromium`), driven by Playwright; its profile
lives in a temporary folder.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import uvicorn
from argon2 import PasswordHasher
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import Engine

from mailbot.config import Config
from mailbot.desk.app import create_desk_app, with_desk
from mailbot.loop.outbox import OutboxPortalMailer
from portal_stub.app import DSFR_DIST, create_app
from portal_stub.service import StubPortal

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Screenshots are written to docs/screenshots/ only when asked (MAILBOT_SCREENSHOTS=1), so a
# test run leaves the tracked pictures alone; otherwise to a temporary folder.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("MAILBOT_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "mailbot-screenshots"
)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (never 10080, which Chromium refuses)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port != 10080:
            return port


@contextmanager
def serve_portal(
    config: Config,
    engine: Engine,
    *,
    hasher: PasswordHasher | None = None,
    now: Callable[[], datetime] | None = None,
) -> Iterator[str]:
    """Serve the portal and the desk with uvicorn in a thread on
    `config.portal.listen_host/port` (port 0: a free one); yields its base URL and stops the
    server afterwards. The desk's session key comes from `config.secret()`."""
    host = config.portal.listen_host
    port = config.portal.listen_port or free_port()
    mailer = OutboxPortalMailer(config, engine, now=now)
    portal = StubPortal(engine, config.portal.base_url, now, hasher=hasher, mailer=mailer)
    desk = create_desk_app(config, engine, lambda _session: portal, dsfr_dir=DSFR_DIST, now=now)
    app = with_desk(desk, create_app(config, engine, mailer=mailer, hasher=hasher, now=now))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="portal-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the portal did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian Chromium with a throw-away profile and home folder."""
    with tempfile.TemporaryDirectory(prefix="portal-chromium-") as home:
        env: dict[str, str | float | bool] = {
            **os.environ,
            "HOME": home,
            "XDG_CONFIG_HOME": f"{home}/.config",
            "XDG_CACHE_HOME": f"{home}/.cache",
        }
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, env=env
            )
            try:
                yield browser
            finally:
                browser.close()


def login(page: Page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/connexion")
    page.get_by_role("textbox", name="Identifiant").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def desk_login(page: Page, base_url: str, email: str, password: str) -> None:
    """Sign in to the admin's desk (its own login page)."""
    page.goto(f"{base_url}/admin/connexion")
    page.get_by_role("textbox", name="Identifiant").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def login_and_change_password(
    page: Page, base_url: str, email: str, temp_pw: str, new_pw: str
) -> None:
    """First login with the temporary password, then the forced choice of `new_pw`; ends on
    the Accueil space."""
    login(page, base_url, email, temp_pw)
    page.wait_for_url(f"{base_url}/compte/mot-de-passe")
    page.locator("#nouveau").fill(new_pw)
    page.locator("#confirmation").fill(new_pw)
    page.get_by_role("button", name="Enregistrer le mot de passe").click()
    page.wait_for_url(f"{base_url}/espaces/accueil")


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# Elements that must never overlap another (one inside the other is fine), and whether the
# page scrolls sideways (a table may scroll inside its own frame).
OVERLAPS_JS = """
() => {
  const sel = 'main h1, main h2, main p, main a, main button, main label, main select,'
    + ' main input:not([type=checkbox]):not([type=hidden]), main dt, main dd, main li,'
    + ' header a, header button, header p';
  const els = [...document.querySelectorAll(sel)].filter(e => {
    const r = e.getBoundingClientRect(), st = getComputedStyle(e);
    return r.width > 1 && r.height > 1 && st.visibility !== 'hidden' && st.opacity !== '0'
      && !e.closest('.fr-table') && !e.closest('.fr-header__menu.fr-modal:not(.fr-modal--opened)')
      && !e.closest('.fr-skiplinks');
  });
  const found = [];
  for (let i = 0; i < els.length; i++) {
    for (let j = i + 1; j < els.length; j++) {
      const a = els[i], b = els[j];
      if (a.contains(b) || b.contains(a)) continue;
      const r = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      const w = Math.min(r.right, q.right) - Math.max(r.left, q.left);
      const h = Math.min(r.bottom, q.bottom) - Math.max(r.top, q.top);
      if (w > 2 && h > 2) found.push(a.outerHTML.slice(0, 80) + ' / ' + b.outerHTML.slice(0, 80));
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    found.push('page wider than the screen: ' + document.documentElement.scrollWidth);
  return found;
}
"""


def overlaps(page: Page) -> list[str]:
    """Pairs of visible elements drawn over each other, and a page wider than the screen."""
    found: list[str] = page.evaluate(OVERLAPS_JS)
    return found
