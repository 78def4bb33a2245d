"""Run `python -m sandbox`, the same as `flowretail sandbox`."""

import sys

from sandbox.cli import main

sys.exit(main())
