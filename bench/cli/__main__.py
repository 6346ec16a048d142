"""`python -m bench.cli ...`: the same as `infer-bench ...`."""

import sys

from bench.cli import main

sys.exit(main())
