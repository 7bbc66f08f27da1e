"""Entry point of the frozen `encodec-studio` executable (the GUI): `app.main:main`."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()  # harmless unless something starts a spawned child process
    from app.main import main

    sys.exit(main())
