"""`python -m api.cli`: the `clipdex` command."""

import sys

from api.cli import main

sys.exit(main())
