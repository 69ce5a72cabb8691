"""``python -m magentic_health``: the same command line as ``magentic-health``."""

from magentic_health.cli import main

if __name__ == "__main__":
    main()
