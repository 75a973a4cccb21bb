"""User-facing errors: one line that says what is wrong and how to fix it.

Library code raises these for user mistakes (bad input files, wrong arguments, missing data);
the CLI prints the message alone, without a traceback, and exits with status 2.
"""

from __future__ import annotations


class RsvlError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class InputError(RsvlError):
    """An input file or folder is missing, malformed or inconsistent."""


class ConfigError(RsvlError):
    """A configuration value or command-line option is invalid."""


class TransientError(RsvlError):
    """A failure that may pass when retried (a server down or rate-limiting for a while).

    Schedulers retry these; they fail at once on the other, deterministic, errors.
    """


class RemoteReadError(TransientError):
    """Reading remote imagery (a tile server, an object store) failed after its retries."""
