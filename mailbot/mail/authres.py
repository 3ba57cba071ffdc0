"""Authentication-Results (RFC 8601): what the receiving server said about a mail.

Only headers whose authserv-id is configured as trusted count: anyone can write an
Authentication-Results header into a mail, and RFC 8601 §5 asks the border MTA to remove
incoming ones that carry its own authserv-id — the deployment must make sure it does, or a
forged "pass" from the sender would be believed (a forged "fail" only blocks a command).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from mailbot.mail.mimetext import strip_comments

MAX_RESULTS = 50  # results read per header; more is not a real server's header

# Reasons a reviewer command is refused on these grounds (see mailbot.mail.classify).
AUTH_RESULTS_FAIL = "auth_results_fail"
AUTH_RESULTS_NOT_PASS = "auth_results_not_pass"

_RESULT_RE = re.compile(r"^\s*([a-z0-9][a-z0-9_.-]*)\s*(?:/\s*\d+\s*)?=\s*([a-z0-9_-]+)", re.I)
_PROPERTY_RE = re.compile(
    r"(?:^|\s)((?:header|smtp|body|policy)\.[a-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s\"]+)", re.I
)


class _HasHeaders(Protocol):
    @property
    def headers(self) -> _HeaderGetter: ...

    @property
    def from_addr(self) -> str | None: ...


class _HeaderGetter(Protocol):
    def get_all(self, name: str) -> list[str]: ...


@dataclass(frozen=True)
class AuthResults:
    """One Authentication-Results header: its authserv-id and (method, result) pairs in
    order (several `dkim=` results when there are several signatures)."""

    authserv_id: str
    results: list[tuple[str, str]] = field(default_factory=list)
    # The properties of each result (`header.from`, `header.d`…), lower-case, same order.
    properties: list[dict[str, str]] = field(default_factory=list, compare=False)

    def outcome(self, method: str) -> str | None:
        """`pass` if any result of `method` passed, else the first result, else None."""
        found = [r for m, r in self.results if m == method]
        if not found:
            return None
        return "pass" if "pass" in found else found[0]

    def aligned_pass(self, method: str, from_domain: str | None) -> bool:
        """A `pass` of `method` whose domain (`header.from` for DMARC, `header.d` or the
        domain of `header.i` for DKIM) is aligned with `from_domain`."""
        for (m, result), props in zip(self.results, self.properties, strict=True):
            if m != method or result != "pass":
                continue
            names = ("header.from",) if method == "dmarc" else ("header.d", "header.i")
            if any(aligned(from_domain, props.get(n, "")) for n in names):
                return True
        return False


def aligned(from_domain: str | None, auth_domain: str) -> bool:
    """Relaxed alignment, conservatively: the From domain equals the authenticated domain or
    is one of its subdomains (a single label, a top-level domain, never counts)."""
    domain = auth_domain.strip().strip('"').rpartition("@")[2].lower().rstrip(".")
    if not from_domain or "." not in domain:
        return False
    from_domain = from_domain.lower().rstrip(".")
    return from_domain == domain or from_domain.endswith("." + domain)


def _split_semicolons(value: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    in_quotes = False
    for char in value:
        if char == '"':
            in_quotes = not in_quotes
        if char == ";" and not in_quotes:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_authentication_results(value: str) -> AuthResults | None:
    """`authserv-id [version] ; method=result … ; …` (RFC 8601 §2.2), or None if unreadable."""
    parts = _split_semicolons(strip_comments(value.replace("\r", " ").replace("\n", " ")))
    head = parts[0].split()
    if not head:
        return None
    authserv_id = head[0].strip().lower().rstrip(".")
    results: list[tuple[str, str]] = []
    properties: list[dict[str, str]] = []
    for part in parts[1 : MAX_RESULTS + 1]:
        match = _RESULT_RE.match(part)
        if match and match.group(1).lower() != "none":
            results.append((match.group(1).lower(), match.group(2).lower()))
            props = _PROPERTY_RE.findall(part[match.end() :])
            properties.append({k.lower(): v.strip('"').lower() for k, v in props})
    return AuthResults(authserv_id, results, properties)


def trusted_results(values: Iterable[str], trusted_ids: Iterable[str]) -> list[AuthResults]:
    trusted = {t.strip().lower().rstrip(".") for t in trusted_ids}
    found = []
    for value in values:
        parsed = parse_authentication_results(value)
        if parsed is not None and parsed.authserv_id in trusted:
            found.append(parsed)
    return found


def _fails(header: AuthResults) -> bool:
    dmarc = header.outcome("dmarc")
    if dmarc is not None:
        return dmarc == "fail"
    return header.outcome("dkim") == "fail" and header.outcome("spf") == "fail"


def _passes(header: AuthResults, from_domain: str | None) -> bool:
    if header.outcome("dmarc") is not None:
        return header.aligned_pass("dmarc", from_domain)
    return header.aligned_pass("dkim", from_domain)


def verdict(
    parsed_mail: _HasHeaders, trusted_ids: Iterable[str], require_pass: bool
) -> tuple[bool, str | None]:
    """(ok, reason). Not checked (ok) when no authserv-id is trusted. Any trusted header that
    says `dmarc=fail` — or, without a DMARC result, `dkim=fail` and `spf=fail` — fails
    (`auth_results_fail`), whatever domain it names. With `require_pass`, a trusted header
    must say `dmarc=pass` with a `header.from` aligned with the From domain (or, when it has
    no DMARC result, `dkim=pass` with an aligned `header.d`/`header.i`), else
    `auth_results_not_pass`: a pass for another domain is no result at all."""
    trusted = [t for t in trusted_ids if t.strip()]
    if not trusted:
        return True, None
    headers = trusted_results(parsed_mail.headers.get_all("authentication-results"), trusted)
    if any(_fails(h) for h in headers):
        return False, AUTH_RESULTS_FAIL
    from_domain = (parsed_mail.from_addr or "").rpartition("@")[2] or None
    if require_pass and not any(_passes(h, from_domain) for h in headers):
        return False, AUTH_RESULTS_NOT_PASS
    return True, None
