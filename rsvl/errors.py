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


# Exit statuses of the command line (documented in the README's reliability section).
EXIT_USER_ERROR = 2  # an RsvlError: the input or a setting is wrong
EXIT_SYSTEM_ERROR = 3  # an OSError: the disk, permissions or limits of the machine
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: rerun the same command to resume

# errno name -> what the user can do about it.
_OS_FIXES: dict[str, str] = {
    "ENOSPC": "the disk is full: free space or write elsewhere, then rerun to resume",
    "EDQUOT": "the disk quota is exhausted: free space or write elsewhere, then rerun to resume",
    "EFBIG": "a file grew past the file-size limit (ulimit -f): raise it or write elsewhere, "
             "then rerun to resume",
    "EACCES": "permission denied: choose a folder you may write, or fix its permissions",
    "EPERM": "operation not permitted: choose a folder you may write, or fix its permissions",
    "EROFS": "the file system is read-only: write the output somewhere else",
    "ENOTDIR": "a path component is a file, not a folder: choose another path",
    "EISDIR": "a folder is where a file is expected: choose another path",
    "ENOENT": "it does not exist (it may have vanished while running): check the path",
    "EMFILE": "too many open files: raise the limit (ulimit -n) or use fewer workers",
    "ENFILE": "the system has too many open files: close other programs or use fewer workers",
    "EEXIST": "it already exists: remove it or choose another path",
    "ENAMETOOLONG": "the path is too long: choose a shorter one",
}


def describe_os_error(error: OSError) -> str:
    """One line for an operating-system error: what failed, on which path, and the fix."""
    import errno as errno_names

    name = errno_names.errorcode.get(error.errno or 0, "")
    paths = [p for p in (error.filename, error.filename2) if p is not None]
    where = " -> ".join(str(p) for p in paths)
    reason = error.strerror or str(error) or type(error).__name__
    fix = _OS_FIXES.get(name, "check the path and the machine's limits, then rerun to resume")
    return f"{reason}{f': {where}' if where else ''} ({fix})"
