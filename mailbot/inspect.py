"""`mailbot inspect FILE… --json`: how mailbot understands mail files (CONTRACTS.md).

Reads the configuration when there is one; opens no database, writes nothing, sends nothing.
Threading is judged from the headers alone: every well-formed case reference counts as known.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailbot.config import Config, ConfigError, load_config
from mailbot.mail.classify import ClassifyContext, classify
from mailbot.mail.parse import ParseLimits, parse_message
from workflows.text.directives import parse_directives

DEFAULT_CONFIG = "config.toml"


def inspect_bytes(
    raw: bytes, path: str, config: Config | None, secret: bytes | None
) -> dict[str, Any]:
    """The JSON object of CONTRACTS.md for one raw message."""
    limits = config.limits if config else None
    mail = parse_message(raw, ParseLimits.from_config(limits))
    result = classify(mail, ClassifyContext(config=config, secret=secret))
    new_text = result.new_text
    directives: list[str] = []
    out: dict[str, Any] = {
        "file": path,
        "kind": result.kind,
        "rules": list(result.rules),
        "subject": mail.subject,
        "from": mail.from_addr,
        "from_name": mail.from_name,
        "message_id": mail.message_id,
        "in_reply_to": mail.in_reply_to,
        "references": list(mail.references),
        "case_ref": result.case_ref,
    }
    if result.kind == "reviewer_command":
        out["authenticated"] = bool(result.authenticated)
        out["auth_failure"] = result.auth_failure
        case_kind = "subscription" if (result.case_ref or "").startswith("ABO-") else "question"
        parsed = parse_directives(new_text, case_kind)
        new_text, directives = parsed.text, list(parsed.directives)
    out["text"] = mail.text
    out["new_text"] = new_text
    out["directives"] = directives
    out["attachments"] = [
        {"filename": a.filename, "content_type": a.content_type, "size": a.size}
        for a in mail.attachments
    ]
    out["annex"] = None
    if result.annex_attachment is not None:
        # Imported here: the readers and the annex rules (email-validator, phonenumbers) cost
        # start-up that mail without an annex does not need.
        from mailbot.annex.reader import AnnexLimits, parse_annex_bytes  # noqa: PLC0415

        attachment = result.annex_attachment
        annex_limits = AnnexLimits.from_config(limits)
        out["annex"] = parse_annex_bytes(attachment.data, attachment.filename, annex_limits)
    return out


def load_inspect_config(config_path: str | None) -> Config | None:
    """`--config`, else `./config.toml` when present, else None. A broken file raises
    `ConfigError` (the command stops with the key at fault)."""
    if config_path:
        return load_config(config_path)
    if Path(DEFAULT_CONFIG).is_file():
        return load_config(DEFAULT_CONFIG)
    return None


def _secret(config: Config | None) -> bytes | None:
    if config is None:
        return None
    try:
        return config.secret()
    except ConfigError:
        return None  # reviewer replies then show auth_failure "no_secret"


def inspect_files(paths: list[str], config_path: str | None) -> tuple[list[dict[str, Any]], int]:
    """One result per path, in order, and the exit code: 0, or 2 when a file could not be
    read at all (its result is then `{"file": …, "error": …}`)."""
    config = load_inspect_config(config_path)
    secret = _secret(config)
    results: list[dict[str, Any]] = []
    code = 0
    for path in paths:
        try:
            raw = Path(path).read_bytes()
        except OSError as err:
            results.append({"file": path, "error": f"fichier illisible : {err.strerror or err}"})
            code = 2
            continue
        results.append(inspect_bytes(raw, path, config, secret))
    return results, code
