"""``python -m vectorops.cli``: the ``vectorops`` command."""

import sys

from vectorops.cli.main import main

sys.exit(main())
