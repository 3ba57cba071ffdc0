"""The one error of the annex: a table that cannot be used at all."""

from __future__ import annotations

# Ends the French errors about the table's shape; the subscription workflow attaches the blank
# template to any refusal that carries it (workflows.subscription._table_refused).
TEMPLATE_HINT = "Merci d'utiliser le modèle de tableau joint."


class AnnexError(Exception):
    """A table that cannot be used at all; `french` is for the sender, `english` for the log."""

    def __init__(self, reason: str, french: str, english: str | None = None) -> None:
        super().__init__(english or reason)
        self.reason = reason
        self.french = french
        self.english = english or reason
