"""``python -m newsledger.flows.cli``: the ``newsledger`` command."""

from newsledger.flows.cli import main

main()
