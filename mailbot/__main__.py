"""`python -m mailbot` runs the command line."""

from mailbot.cli import app

app()
