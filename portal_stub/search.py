"""Full-text search over published Q&A: one interface, two engines.

- SQLite: the FTS5 table `portal_publication_fts` (tokenizer `unicode61 remove_diacritics 2`),
  ranked with bm25, the question weighing three times the answer.
- PostgreSQL: French text search (`to_tsvector('french', search_text)`, stemming and stop
  words) over `search_text`, which holds question and answer folded in Python (lower-case,
  diacritics removed) because the `unaccent` extension may not be installed.

Both get the same query terms (folded, split on anything that is not a letter or a digit, so
that no search syntax from the user reaches the engine). Publications matching every term come
first, then those matching some of them, which suits both a search box and the look-up of
similar answers for a new question.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.sql.elements import TextClause

from workflows.text.fold import fold

MAX_QUERY_CHARS = 500
MAX_TERMS = 24
_TERM = re.compile(r"[a-z0-9]+")
# Small French stop-word list for the SQLite engine (PostgreSQL's `french` has its own).
_STOP_WORDS = frozenset(
    "a au aux avec ce ces comment d dans de des du elle en est et il ils je l la le les leur "
    "leurs lui m ma mais me mes moi mon n ne nos notre nous on ou par pas pour qu que quel "
    "quelle quels qui s sa se ses son sont sur t ta te tes toi ton tu un une vos votre vous y "
    "c cela ca cette cet".split()
)


def query_terms(query: str) -> list[str]:
    """The distinct words of a query, folded, without stop words, in order."""
    terms: list[str] = []
    for term in _TERM.findall(fold(query[:MAX_QUERY_CHARS])):
        if term not in _STOP_WORDS and term not in terms:
            terms.append(term)
    return terms[:MAX_TERMS]


def search_publication_ids(
    connection: Connection, query: str, spaces: Sequence[str], limit: int
) -> list[tuple[int, float]]:
    """(publication id, score) of visible publications in `spaces`, best first."""
    terms = query_terms(query)
    if not terms or not spaces or limit <= 0:
        return []
    found: dict[int, float] = {}
    operators = ("AND", "OR") if len(terms) > 1 else ("AND",)
    for operator in operators:
        for pub_id, score in _run(connection, terms, operator, list(spaces), limit):
            if pub_id not in found and len(found) < limit:
                found[pub_id] = score
        if len(found) >= limit:
            break
    return list(found.items())


def _run(
    connection: Connection, terms: list[str], operator: str, spaces: list[str], limit: int
) -> list[tuple[int, float]]:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        statement, match = _sqlite_statement(), _fts5_match(terms, operator)
    elif dialect == "postgresql":
        statement, match = _postgres_statement(), _tsquery(terms, operator)
    else:  # pragma: no cover - the deployment supports these two only
        raise NotImplementedError(f"no full-text search for {dialect}")
    rows = connection.execute(statement, {"match": match, "spaces": spaces, "limit": limit})
    return [(int(row[0]), float(row[1])) for row in rows]


def _fts5_match(terms: list[str], operator: str) -> str:
    # Terms are [a-z0-9]+ only, so quoting cannot be escaped. A crude stemming: plural mark
    # dropped, then a prefix query (« interfaces » finds « interface », « interfacer »).
    parts = []
    for term in terms:
        if len(term) > 4 and term[-1] in "sx":
            term = term[:-1]
        parts.append(f'"{term}"*' if len(term) >= 4 else f'"{term}"')
    return f" {operator} ".join(parts)


def _tsquery(terms: list[str], operator: str) -> str:
    return (" & " if operator == "AND" else " | ").join(terms)


@cache
def _sqlite_statement() -> TextClause:
    return text(
        """SELECT p.id, -bm25(portal_publication_fts, 3.0, 1.0) AS score
        FROM portal_publication_fts
        JOIN portal_publication AS p ON p.id = portal_publication_fts.rowid
        WHERE portal_publication_fts MATCH :match
          AND p.is_current AND p.withdrawn_at IS NULL AND p.space IN :spaces
        ORDER BY score DESC, p.published_at DESC LIMIT :limit"""
    ).bindparams(bindparam("spaces", expanding=True))


@cache
def _postgres_statement() -> TextClause:
    return text(
        """SELECT p.id, ts_rank(to_tsvector('french'::regconfig, p.search_text), q) AS score
        FROM portal_publication AS p, to_tsquery('french'::regconfig, :match) AS q
        WHERE to_tsvector('french'::regconfig, p.search_text) @@ q
          AND p.is_current AND p.withdrawn_at IS NULL AND p.space IN :spaces
        ORDER BY score DESC, p.published_at DESC LIMIT :limit"""
    ).bindparams(bindparam("spaces", expanding=True))
