"""``python -m rsvl`` runs the command line."""

import sys

from rsvl.cli import main

sys.exit(main())
