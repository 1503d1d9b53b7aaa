"""``python -m ais_emulator serve ...`` (see ``ais_emulator.cli``)."""

import sys

from ais_emulator.cli import main

sys.exit(main())
