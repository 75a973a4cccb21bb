"""Image paths named by a caption file must stay inside the folder they are read from.

A Karpathy JSON or a CSV is data, often downloaded: an entry ``../../home/me/id.jpg``, an
absolute path or a symlink out of ``--images-dir`` would copy any image the user can read into
the shards (and into a published dataset). Such entries are refused, one line naming the entry,
unless the user says the file is trusted (``allow_outside_images_dir``).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from rsvl.errors import InputError

# How the refusal tells the user to override it (the CLI flag and the API option).
OVERRIDE = "--allow-outside-images-dir (allow_outside_images_dir=True)"


def image_inside(base: Path, relative: str, origin: str, allow_outside: bool = False) -> Path:
    """``base / relative``, refused when it leaves ``base``.

    Args:
        base: The images folder (``--images-dir``, or the caption file's folder).
        relative: The image path as the caption file gives it.
        origin: Where the entry is, for the error (``caps.json: images[3]``).
        allow_outside: Accept paths that leave ``base`` (a caption file the user trusts).

    Returns:
        The image path.

    Raises:
        InputError: ``relative`` is absolute, climbs out with ``..``, or resolves (through a
            symlink) outside ``base``.
    """
    path = base / relative
    if allow_outside:
        return path
    why = None
    if Path(relative).is_absolute() or PureWindowsPath(relative).is_absolute():
        why = "an absolute path"
    elif ".." in PurePosixPath(relative.replace("\\", "/")).parts:
        why = "a '..' component"
    elif not path.resolve().is_relative_to(base.resolve()):
        why = f"it resolves to {path.resolve()} (a symlink)"
    if why is not None:
        raise InputError(f"{origin}: image path {relative!r} leaves the images folder {base} "
                         f"({why}); keep the images inside it, or pass {OVERRIDE} if you "
                         "trust the caption file")
    return path
