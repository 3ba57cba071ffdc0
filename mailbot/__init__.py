"""The shell of mailbot: mail I/O, parsing, classification, the daemon loop and the CLI."""
