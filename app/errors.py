"""The one error every `kinema` command raises for the user: printed as one line, exit status 2.

It lives apart from `app.cli` so that the command modules (`app.motion_commands`, `app.doctor`) and the CLI
can all import it without importing each other.
"""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""
