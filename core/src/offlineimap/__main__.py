"""``python -m offlineimap``: the same as the ``offlineimap`` command."""

import sys

from offlineimap.cli import main

sys.exit(main())
