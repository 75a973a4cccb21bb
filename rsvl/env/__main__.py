"""``python -m rsvl.env install|check``: the install step's own work (see the Makefile).

``install`` writes the ``.pth`` file that arms the torchvision remedy at interpreter start;
``check`` fails loudly when CUDA wheels slipped into a CPU environment or the stack does not
import.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import site
import subprocess
import sys
from pathlib import Path

PTH_NAME = "rsvl_torchvision_fix.pth"
PTH_LINE = "import rsvl.env.torchvision_fix as _rsvl_tv; _rsvl_tv.install()\n"
FORBIDDEN_PREFIXES = ("nvidia", "triton")


def install_pth() -> Path:
    """Write the start-up hook into this environment's site-packages and return its path."""
    target = Path(site.getsitepackages()[0]) / PTH_NAME
    target.write_text(PTH_LINE)
    return target


def cuda_packages() -> list[str]:
    """Installed distributions that belong to a CUDA stack (must be none on a CPU machine)."""
    names = {dist.metadata["Name"] or "" for dist in importlib.metadata.distributions()}
    return sorted(n for n in names if n.lower().startswith(FORBIDDEN_PREFIXES))


def check(allow_cuda: bool) -> int:
    """Verify the environment; prints one line per problem and returns an exit code."""
    problems = []
    found = cuda_packages()
    if found and not allow_cuda:
        problems.append(
            f"CUDA packages are installed in a CPU environment: {', '.join(found)}. "
            "Recreate it (make clean setup); every pip call must use -c constraints.txt"
        )
    # A fresh interpreter, so the .pth hook runs exactly as it will for users.
    probe = "import open_clip, torchvision, accelerate, timm; print(torchvision.__version__)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        problems.append(f"the model stack does not import: {last}")
    for problem in problems:
        print(f"rsvl.env: error: {problem}", file=sys.stderr)
    if not problems:
        print("rsvl.env: ok (no CUDA packages; open_clip, torchvision, accelerate import)")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rsvl.env", description=__doc__)
    parser.add_argument("action", choices=["install", "check"])
    parser.add_argument(
        "--allow-cuda", action="store_true", help="accept nvidia-*/triton (GPU machines)"
    )
    args = parser.parse_args(argv)
    if args.action == "install":
        print(f"rsvl.env: wrote {install_pth()}")
    return check(args.allow_cuda)


if __name__ == "__main__":
    sys.exit(main())
