"""`python -m storynb …`: the same as the `storynb` command."""
import sys

from .cli import main

sys.exit(main())
