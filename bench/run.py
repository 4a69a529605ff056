"""``python bench/run.py NAME [options]``: ``python -m bench NAME`` from any directory."""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)
    from bench.__main__ import main

    sys.exit(main(sys.argv[1:]))
