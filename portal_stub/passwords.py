"""Which new passwords the portal accepts: judged by strength, not by character classes.

A password is refused when it is shorter than `MIN_PASSWORD_LENGTH`, is the identifier, or
when zxcvbn (Dropbox's estimator of how many guesses a cracker needs) scores it below
`MIN_SCORE` (3: about 10⁸ guesses, out of reach of an online attacker slowed by
`workflows.login_throttle`). zxcvbn knows English dictionaries and keyboard patterns; it is
given, as words an attacker would try first, the person's identifier and names, the portal's
name and the French words people put in passwords (`FRENCH_WORDS`), so that "motdepasse2026"
or "Stationnement2026!" are as weak as "password2026".
"""

from __future__ import annotations

import re
from typing import Any

from workflows.text.fold import fold

MIN_PASSWORD_LENGTH = 12
MIN_SCORE = 3
MAX_CHECKED_CHARS = 72  # zxcvbn's own limit; whatever follows only adds strength

# Common in French passwords (lists of leaked passwords) and the vocabulary of this portal.
FRENCH_WORDS = (
    "motdepasse", "mot de passe", "azerty", "azertyuiop", "qsdfgh", "wxcvbn", "bonjour",
    "bonsoir", "salut", "soleil", "doudou", "chouchou", "loulou", "jetaime", "amour",
    "coucou", "chocolat", "bisous", "princesse", "marseille", "paris", "lyon", "toulouse",
    "france", "mairie", "commune", "ville", "ministere", "interieur", "police", "parking",
    "stationnement", "payant", "collectivite", "collectivites", "espace", "portail",
    "accueil", "desta", "antai", "cerema", "forfait", "decentralisation", "janvier",
    "fevrier", "mars", "avril", "juin", "juillet", "aout", "septembre", "octobre",
    "novembre", "decembre", "lundi", "vendredi", "dimanche", "bienvenue", "secret",
)  # fmt: skip

TOO_SHORT = (
    "Le mot de passe doit comporter au moins {n} caractères. Une phrase de quatre ou cinq mots "
    "sans rapport entre eux est facile à retenir et difficile à deviner."
)
IS_IDENTIFIER = (
    "Le mot de passe ne peut pas être votre identifiant. Choisissez par exemple une phrase de "
    "quatre ou cinq mots sans rapport entre eux."
)
TOO_WEAK = (
    "Ce mot de passe est trop facile à deviner\u00a0: il repose sur des mots courants, une suite "
    "de touches ou de chiffres, des répétitions, votre nom, votre adresse ou le nom du "
    "portail. Choisissez par exemple une phrase de quatre ou cinq mots sans rapport entre "
    "eux, que vous seul pouvez relier."
)
RULE = (
    "Au moins {n} caractères, difficile à deviner\u00a0: ni votre identifiant ni votre nom, ni le "
    "nom du portail, pas de mot courant seul, de suite («\u00a0azerty\u00a0», «\u00a0123456\u00a0») ou de "
    "répétition. Une phrase de plusieurs mots sans rapport entre eux est un bon choix."
)


def password_rule() -> str:
    """The rule as the forms explain it (French)."""
    return RULE.format(n=MIN_PASSWORD_LENGTH)


def personal_words(identifier: str, *names: str) -> list[str]:
    """What an attacker who knows the person and the portal tries first: each value whole,
    glued (« espacecollectivites »), its parts, with and without accents."""
    parts: dict[str, None] = {}  # ordered: zxcvbn counts a word's rank as its guesses
    wholes: dict[str, None] = {}
    for value in (identifier, identifier.split("@", 1)[0], *names):
        for form in (value.lower(), fold(value)):
            words = [w for w in re.split(r"[^\w]+", form) if len(w) >= 3]
            parts.update(dict.fromkeys(words))
            glued = ["".join(words[i : i + 2]) for i in range(len(words) - 1)]
            wholes.update(dict.fromkeys([form, "".join(words), *glued]))
    return [w for w in dict.fromkeys([*parts, *wholes]) if w]


def _zxcvbn(password: str, inputs: list[str]) -> Any:
    # Imported here: only a password being chosen needs it, not the daemon's start-up (which
    # imports this module through the portal stand-in's security).
    from zxcvbn import zxcvbn  # noqa: PLC0415

    return zxcvbn(password, user_inputs=inputs)


def strength_problem(password: str, identifier: str, *names: str) -> str | None:
    """Why `password` is too weak (French, for the form), or None when it is strong enough."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return TOO_SHORT.format(n=MIN_PASSWORD_LENGTH)
    if password.strip().lower() == identifier.strip().lower():
        return IS_IDENTIFIER
    # Without duplicates: zxcvbn would rank a repeated word by its last place in the list.
    inputs = list(dict.fromkeys([*personal_words(identifier, *names), *FRENCH_WORDS]))
    result = _zxcvbn(password[:MAX_CHECKED_CHARS], inputs)
    if int(result["score"]) < MIN_SCORE or _decorated_word(password, inputs):
        return TOO_WEAK
    return None


def _decorated_word(password: str, inputs: list[str]) -> bool:
    """A guessable word dressed up with capitals, digits and symbols (« MotDePasse2026! »):
    zxcvbn scores any three pieces at 10⁸ guesses at least, so the letters are judged alone."""
    letters = "".join(c for c in fold(password) if c.isalpha())
    if len(letters) < 4:
        return False
    result = _zxcvbn(letters[:MAX_CHECKED_CHARS], inputs)
    known = all(m["pattern"] in GUESSABLE_PATTERNS for m in result["sequence"])
    return known and float(result["guesses"]) < MIN_GUESSES


MIN_GUESSES = 1e8  # zxcvbn's score 3
# Every zxcvbn pattern but "bruteforce" (random characters, which the letters alone may be).
GUESSABLE_PATTERNS = frozenset({"dictionary", "spatial", "repeat", "sequence", "regex", "date"})
