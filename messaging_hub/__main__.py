"""``python -m messaging_hub``: the command line."""

from .cli import main

raise SystemExit(main())
