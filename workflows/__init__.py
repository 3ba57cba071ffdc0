"""Pure decisions of mailbot: no I/O."""
