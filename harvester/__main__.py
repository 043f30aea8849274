"""`python -m harvester` runs the command line."""

import sys

from harvester.cli.main import main

sys.exit(main())
