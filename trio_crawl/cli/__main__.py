"""``python -m trio_crawl.cli`` (``python -m trio_crawl`` also covers a Ctrl-C while the
command's modules load)."""

import sys

from .commands import main

sys.exit(main())
