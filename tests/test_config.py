"""The configuration: the shipped file is valid, and every wrong setting names its key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailbot.cli import app
from mailbot.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent


def shipped() -> dict:
    return tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))


def test_shipped_configuration_is_valid() -> None:
    config = load_config(ROOT / "config.toml")
    assert config.group_for("subscription") == "abonnements"
    assert config.group_for("question:unclassified") == "accueil"
    assert config.devmail.enabled


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["mailbox"].pop("host"), "mailbox.host: missing"),
        (lambda d: d["mailbox"].update(tls="ssl"), "mailbox.tls"),
        (lambda d: d["mailbox"].update(host="imap.example.org"), "mailbox.tls: 'plain' is allowed"),
        (lambda d: d["smtp"].update(port="vingt-cinq"), "smtp.port"),
        (lambda d: d["database"].update(url="mysql://x"), "database.url"),
        (lambda d: d["database"].update(retry_max_seconds=0), "database.retry_max_seconds"),
        (lambda d: d["database"].update(alert_after_seconds=-1), "database.alert_after_seconds"),
        (
            lambda d: d["instance"].update(generic_address="pas-une-adresse"),
            "instance.generic_address",
        ),
        (
            lambda d: d["reviewers"]["groups"]["abonnements"].update(handles=["questions"]),
            "reviewers.groups.abonnements.handles",
        ),
        (lambda d: d["reviewers"]["groups"].pop("abonnements"), "no group handles 'subscription'"),
        (lambda d: d["log"].update(format="xml"), "log.format"),
        (lambda d: d["limits"].update(annex_max_rows=0), "limits.annex_max_rows"),
        (lambda d: d["mailbox"].update(colour="bleu"), "mailbox.colour: unknown setting"),
        (lambda d: d["admins"].update(addresses=[]), "admins.addresses"),
        (lambda d: d["smtp"].update(send_lease_seconds=45), "smtp.send_lease_seconds"),
        (lambda d: d["smtp"].update(max_interrupted_sends=0), "smtp.max_interrupted_sends"),
        (lambda d: d["smtp"].update(timeout_seconds=-1), "smtp.timeout_seconds"),
        (
            lambda d: d["smtp"].update(connect_backoff_max_seconds=1),
            "smtp.connect_backoff_max_seconds",
        ),
    ],
)
def test_wrong_setting_is_named(mutate, key: str) -> None:
    data = shipped()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert key in str(err.value)


def test_run_stops_at_start_naming_the_key(tmp_path: Path) -> None:
    data = (
        (ROOT / "config.toml")
        .read_text(encoding="utf-8")
        .replace('tls = "plain"', 'tls = "tls"', 1)
    )
    path = tmp_path / "config.toml"
    path.write_text(data, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--once", "--config", str(path)])
    assert result.exit_code == 2
    assert "mailbox.tls" in result.output


def test_missing_secret_environment_variable_is_named(monkeypatch) -> None:
    monkeypatch.delenv("MAILBOT_IMAP_PASSWORD", raising=False)
    result = CliRunner().invoke(app, ["run", "--once", "--config", str(ROOT / "config.toml")])
    assert result.exit_code == 2
    assert "MAILBOT_IMAP_PASSWORD" in result.output


@pytest.mark.parametrize("section", ["mailbox", "smtp"])
@pytest.mark.parametrize("path", ["/nonexistent/ca.pem", "/etc/hostname"])
def test_unusable_ca_file_is_refused_at_start(section: str, path: str) -> None:
    data = shipped()
    data[section]["ca_file"] = path
    with pytest.raises(ConfigError, match=rf"{section}\.ca_file: .*cannot load the CA file"):
        parse_config(data)
