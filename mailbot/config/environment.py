"""Secrets come from the environment (never from `config.toml`): the variables a setting
names, and the optional env file (`instance.env_file`) that every command reads, as systemd's
`EnvironmentFile=` does."""

from __future__ import annotations

import os
from pathlib import Path


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the key."""


def require_env(name: str, key: str) -> str:
    """The variable `name`, which the setting `key` names; ConfigError naming both if unset."""
    value = os.environ.get(name)
    if value is None:
        raise ConfigError(
            f"{key}: the environment variable {name} is not set (export it, or put "
            f"`{name}=…` in the file that instance.env_file names)"
        )
    return value


def load_env_file(path: Path) -> list[str]:
    """Put the `KEY=VALUE` lines of `path` in the environment, unless already there (the
    environment wins, as with systemd); return the names it set. Values may be quoted."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ConfigError(f"instance.env_file: cannot read {path} ({err.strerror})") from None
    names = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"instance.env_file: {path} line {number} is not KEY=VALUE")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if key not in os.environ:
            os.environ[key] = value
            names.append(key)
    return names
