"""``python -m polyvox``: the same as the ``polyvox`` command."""

from polyvox.cli import main

main()
