"""The frozen application's entry point: the same `kinema` command (the studio without arguments, the CLI with)."""
import multiprocessing
import sys

from app.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # `kinema data build --workers N` starts processes from the frozen binary
    sys.exit(main())
