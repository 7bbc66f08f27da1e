"""`python -m codec` runs the `ecdc` command."""

from codec.cli.main import main

raise SystemExit(main())
