"""``python -m tensorstein``: the ``tensorstein`` command line."""
import sys

from .cli import main

sys.exit(main())
