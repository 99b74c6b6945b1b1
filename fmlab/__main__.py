"""`python -m fmlab ...`: see fmlab.cli."""
import sys

from .cli import main

sys.exit(main())
