"""Entry point of the frozen `ecdc` executable (the command line): `codec.cli.main:main`."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from codec.cli.main import main

    sys.exit(main())
