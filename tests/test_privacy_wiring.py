"""What the question workflow publishes: `[privacy] keep_contacts` reaches the scrubber, and
neither the asker's nor the reviewer's name, address or phone number is published."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from workflows_support import GROUPS, NOW, apply, ctx, effects_of, mail, opened, question_data

from mailbot.config import load_config
from mailbot.loop.context import build_context
from workflows import question
from workflows.core import Context, Publish, ReviewerReply
from workflows.text.privacy import EMAIL_MASK, IBAN_MASK, NAME_MASK, PHONE_MASK

ROOT = Path(__file__).resolve().parent.parent
REF = "Q-2026-000077"
ASKER = "agnes.durand@ville-exemple.fr"
REVIEWER = "marie.garnier@interieur.gouv.fr"
KEEP = ("decentralisation-stationnement@interieur.gouv.fr", "01 40 07 60 60")
DESTA_GROUPS = {**GROUPS, "desta": (REVIEWER,)}
QUESTION = (
    "Bonjour,\n\nMme Garnier m'a conseillé d'écrire ici. Notre prestataire demande le "
    "remboursement d'un FPS sur FR76 3000 6000 0112 3456 7890 189 : est-ce possible ?\n"
    "Le standard du ministère (01.40.07.60.60) ne sait pas. Mon portable : 06 12 34 56 78.\n\n"
    "Agnès Durand"
)
ANSWER = (
    "Bonjour Madame Durand,\n\n"
    "Le remboursement se fait sur le compte de l'usager (FR76 1027 8060 3100 0205 4980 136), "
    "pas sur celui du prestataire. Le dossier de jean.dupont@gmail.com est instruit.\n"
    "Écrivez à decentralisation-stationnement@interieur.gouv.fr pour la suite.\n\n"
    "Marie Garnier\nBureau du stationnement payant\nLigne directe : 01 40 07 12 34"
)


def context(**overrides: Any) -> Context:
    return ctx(**{"groups": DESTA_GROUPS, "keep_contacts": KEEP, **overrides})


def ask(text: str = QUESTION, **overrides: Any) -> Any:
    event = mail(text, sender=ASKER, sender_name="Agnès Durand", subject="Remboursement CCSP")
    decision = question.start(event, context(**overrides), REF)
    return opened(decision, event, REF, "question"), decision


def test_published_question_keeps_only_the_administration_contacts() -> None:
    _case, decision = ask()
    published = question_data(decision.data).published_question
    assert "01.40.07.60.60" in published  # listed in keep_contacts
    assert IBAN_MASK in published and "3000 6000" not in published
    assert PHONE_MASK in published and "06 12 34 56 78" not in published
    assert "Garnier" not in published  # a reviewer of the groups, named by the asker
    assert "Agnès" not in published and "Durand" not in published


def test_without_keep_contacts_the_official_number_is_masked_too() -> None:
    _case, decision = ask(keep_contacts=())
    published = question_data(decision.data).published_question
    assert "01.40.07.60.60" not in published


def test_published_answer_has_no_reviewer_line_no_iban_no_half_masked_address() -> None:
    case, _ = ask()
    event = ReviewerReply(
        reviewer=REVIEWER,
        reviewer_name="Marie Garnier",
        message_id="<r1@interieur.example>",
        references=(),
        new_text=ANSWER,
        directives=(),
    )
    decision = question.decide(case, event, context())
    (publish,) = effects_of(decision, Publish)
    public = publish.answer
    assert public == (
        f"Le remboursement se fait sur le compte de l'usager ({IBAN_MASK}), pas sur celui du "
        f"prestataire. Le dossier de {EMAIL_MASK} est instruit.\n"
        "Écrivez à decentralisation-stationnement@interieur.gouv.fr pour la suite."
    )
    for personal in ("01 40 07 12 34", "Garnier", "Durand", "dupont", "Ligne directe"):
        assert personal not in public
    # The asker's mail is the reviewer's text as written.
    assert (
        "Ligne directe : 01 40 07 12 34"
        in question_data(apply(case, decision).data).pending.mail_answer
    )  # type: ignore[union-attr]


def test_reviewer_name_from_the_display_name_alone() -> None:
    case, _ = ask("Le décret est-il paru ?")
    event = ReviewerReply(
        reviewer="relecteur.desta@demo.test",
        reviewer_name="Paul Lemoine",
        message_id="<r1@interieur.example>",
        references=(),
        new_text="Oui, depuis mai.\n\nPaul Lemoine, chef de bureau",
        directives=(),
    )
    (publish,) = effects_of(question.decide(case, event, context()), Publish)
    assert publish.answer == "Oui, depuis mai."
    assert NAME_MASK not in publish.answer


def test_shipped_configuration_keeps_the_generic_address() -> None:
    config = load_config(ROOT / "config.toml")
    built = build_context(config, cast(Any, None), cast(Any, None), "question", None, None, NOW, {})
    assert built.keep_contacts[0] == config.instance.generic_address
    assert tuple(config.privacy.keep_contacts) == built.keep_contacts[1:]
