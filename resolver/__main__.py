"""Allow `python -m resolver` as an alias of the `dnsfence` command."""

import sys

from resolver.cli import main

sys.exit(main())
