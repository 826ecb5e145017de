"""`python -m contextsvc.cli`: the same as the `contextsvc` console script."""

import sys

from contextsvc.cli import main

sys.exit(main())
