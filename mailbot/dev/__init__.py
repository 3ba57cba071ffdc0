"""The embedded default's extras: a local mail system (IMAP + SMTP in one process) and the
guided demo. The running service never imports this package; only `mailbot.wiring` does, when
`[devmail] enabled` is set (`make run`), and the `mailbot demo` command."""
