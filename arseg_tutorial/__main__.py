"""``python -m arseg_tutorial`` runs the command-line interface (see ``arseg_tutorial.cli``)."""
from arseg_tutorial.cli import main

raise SystemExit(main())
