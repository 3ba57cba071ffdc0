"""Threat: formulas, macros and external links in an annex (issue 10, « Formulas »).

A requester's `.xlsm` carries text cells that a spreadsheet would run (`=HYPERLINK(…)`,
`=cmd|' /C calc'!A0`, `@SUM(…)`, `-2+3+cmd|…`), a real formula with its cached value, a VBA
project and a link to an external workbook. End to end on Dovecot and SMTP: the reviewer's
notification, fetched from the reviewer's mailbox, carries a rewritten copy holding values
only (every cell a string, formula-like text escaped with a quote, no `vbaProject.bin`, no
`externalLink` part), never the original; its text shows the cells escaped; the case record
keeps the values as written and the journal keeps the original file."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

import pytest
from harness import Bot, body_text, compose, make_bot, parse, person, submit
from mailservers import MailEnv
from openpyxl import load_workbook
from sqlmodel import Session, select

from mailbot.annex.template import build_template
from storage.models import Case, InboundMessage

pytestmark = pytest.mark.integration
XLSM = "application/vnd.ms-excel.sheet.macroEnabled.12"
HYPERLINK = '=HYPERLINK("http://evil.test/vol","Ville de Testville")'
DDE = "-2+3+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
VBA = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504 + b'Sub AutoOpen()\nShell "calc"\nEnd Sub'
EXTERNAL_LINK = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<externalLink xmlns='
    b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.'
    b'openxmlformats.org/officeDocument/2006/relationships"><externalBook r:id="rId1">'
    b'<sheetNames><sheetName val="Feuil1"/></sheetNames></externalBook></externalLink>'
)
EXTERNAL_LINK_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://'
    b'schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
    b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath"
    b'" Target="file:///C:/evil/stolen.xlsx" TargetMode="External"/></Relationships>'
)
REAL_FORMULA = (
    b'<c r="H{row}" t="str"><f>HYPERLINK("http://evil.test/x","Cliquez ici")</f>'
    b"<v>Cliquez ici</v></c>"
)


@pytest.fixture
def bot(mail_env: MailEnv) -> Bot:
    workdir = Path(tempfile.mkdtemp(prefix="mailbot-formulas-"))
    return make_bot(mail_env, f"sqlite:///{workdir}/mailbot.db", workdir)


def _filled(rows: list[dict[str, str]]) -> tuple[bytes, int]:
    """The official template with `rows`, every cell written as a string (as a requester's
    spreadsheet stores typed text); returns the bytes and the header's row number."""
    wb = load_workbook(io.BytesIO(build_template()))
    ws = wb["Demande"]
    header = next(r for r in range(1, 30) if ws.cell(r, 1).value == "Type de demandeur")
    labels = [ws.cell(header, c).value for c in range(1, 13)]
    for i, row in enumerate(rows, start=1):
        for c, label in enumerate(labels, start=1):
            ws.cell(header + i, c, row.get(str(label), "")).data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), header


def hostile_xlsm(rows: list[dict[str, str]]) -> bytes:
    """`rows` in an .xlsm with a VBA project, an external workbook link, and a real formula
    (with its cached value) in the second person's « Fonction » cell."""
    plain, header = _filled(rows)
    source = zipfile.ZipFile(io.BytesIO(plain))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dest:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"sheet.main+xml", b"DUMMY").replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.DUMMY",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
                data = data.replace(
                    b"</Types>",
                    b'<Default Extension="bin" ContentType="application/vnd.ms-office.'
                    b'vbaProject"/><Override PartName="/xl/externalLinks/externalLink1.xml" '
                    b'ContentType="application/vnd.openxmlformats-officedocument.'
                    b'spreadsheetml.externalLink+xml"/></Types>',
                )
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rId90" Type="http://schemas.microsoft.com/office/2006/'
                    b'relationships/vbaProject" Target="vbaProject.bin"/><Relationship Id='
                    b'"rId91" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    b'relationships/externalLink" Target="externalLinks/externalLink1.xml"/>'
                    b"</Relationships>",
                )
            elif info.filename == "xl/workbook.xml":
                data = data.replace(
                    b"</sheets>",
                    b'</sheets><externalReferences><externalReference r:id="rId91"/>'
                    b"</externalReferences>",
                )
            elif info.filename == "xl/worksheets/sheet1.xml":
                row = header + 2
                cell = re.compile(rb'<c r="H%d"[^>]*>.*?</c>' % row)
                data, count = cell.subn(REAL_FORMULA.replace(b"{row}", b"%d" % row), data)
                assert count == 1
            dest.writestr(info, data)
        dest.writestr("xl/vbaProject.bin", VBA)
        dest.writestr("xl/externalLinks/externalLink1.xml", EXTERNAL_LINK)
        dest.writestr("xl/externalLinks/_rels/externalLink1.xml.rels", EXTERNAL_LINK_RELS)
    return out.getvalue()


def test_reviewers_get_a_values_only_copy_with_escaped_text(bot: Bot) -> None:
    env = bot.env
    alice = env.requesters[0]
    rows = [
        person(env, "durand", **{"Nom de la collectivité ou du prestataire": HYPERLINK}),
        person(env, "martin", **{"Nom de la collectivité ou du prestataire": DDE}),
        person(env, "petit", **{"Fonction": AT_SUM, "Téléphone": "+33 1 23 45 67 89"}),
    ]
    original = hostile_xlsm(rows)
    names = zipfile.ZipFile(io.BytesIO(original)).namelist()
    assert "xl/vbaProject.bin" in names and "xl/externalLinks/externalLink1.xml" in names
    submit(
        env,
        compose(
            alice.address,
            env.bot.address,
            "Demande d'abonnement au portail",
            "Bonjour,\n\nVeuillez trouver ci-joint notre tableau.\n\nCordialement,\nAlice",
            attachments=[("annexe.xlsm", XLSM, original)],
        ),
    )
    bot.run_once()

    with Session(bot.engine) as s:
        case = s.exec(select(Case)).one()
        journal = s.exec(select(InboundMessage)).one()
    assert case.state == "under_review", case.data
    people = case.data["people"]
    # stored as written: the escape is for display and export only, a phone stays E.164
    assert [p["organisation"] for p in people[:2]] == [HYPERLINK, DDE]
    assert people[1]["job_title"] == "Cliquez ici" and people[2]["job_title"] == AT_SUM
    assert people[2]["phone"] == "+33123456789"
    assert _journal_attachment(journal.raw) == original  # the original stays in the journal

    [notif] = env.wait_for(env.reviewers["abonnements"])
    attached = {p.get_filename(): p.get_content() for p in notif.iter_attachments()}
    assert list(attached) == ["annexe-valeurs.xlsx"]
    copy = attached["annexe-valeurs.xlsx"]
    parts = zipfile.ZipFile(io.BytesIO(copy)).namelist()
    assert not [n for n in parts if "vbaproject" in n.lower() or "externallink" in n.lower()]
    assert not any(b"macroEnabled" in zipfile.ZipFile(io.BytesIO(copy)).read(n) for n in parts)
    sheet = load_workbook(io.BytesIO(copy))["Demande"]
    cells = [c for line in sheet.iter_rows() for c in line if c.value is not None]
    assert cells and all(c.data_type == "s" for c in cells)
    values = [[c.value for c in line] for line in sheet.iter_rows(min_row=2)]
    assert [v[1] for v in values] == ["'" + HYPERLINK, "'" + DDE, "Ville de Testville"]
    assert [v[7] for v in values] == ["Chargée du stationnement", "Cliquez ici", "'" + AT_SUM]
    assert values[2][9] == "+33123456789"
    shown = [str(c.value) for c in cells]
    assert not [v for v in shown if v[0] in "=+-@\t\r" and not re.fullmatch(r"\+\d+", v)]

    text = body_text(notif)
    assert f"'{HYPERLINK}" in text and f"'{AT_SUM}" in text
    assert f" {HYPERLINK}" not in text
    assert "Tableau d'origine : « annexe.xlsm » (joint en copie ne contenant que les valeurs" in (
        text
    )


def _journal_attachment(raw: bytes) -> bytes:
    """The xlsm as the journal holds it (inside the raw mail)."""
    [part] = parse(raw).iter_attachments()
    data = part.get_content()
    assert isinstance(data, bytes)
    return data
