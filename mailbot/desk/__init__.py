"""The admin's desk: mailbot's own web application under `/admin` (see `mailbot.desk.app`)."""
