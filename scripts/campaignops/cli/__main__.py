"""`python -m campaignops.cli ...`: the `campaign` command without its console script."""

import sys

from .main import main

sys.exit(main())
