"""What an admin did on the portal, written to the workflow log with `by=` (the desk and
`mailbot accounts` both write it): `<time>  -  account_disabled  account=… by=…`."""

from __future__ import annotations

import secrets
from typing import Any

from mailbot.config import Config
from mailbot.wflog import WorkflowLog


def log_admin_action(config: Config, event: str, by: str, **fields: Any) -> str:
    return WorkflowLog(config.log.file, config.log.format).write(None, event, {**fields, "by": by})


def action_key(prefix: str) -> str:
    """A fresh idempotency key for one admin action (a form carries it, so sending the form
    twice does the work once)."""
    return f"{prefix}:{secrets.token_urlsafe(18)}"
