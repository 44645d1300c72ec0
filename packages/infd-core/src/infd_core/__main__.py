"""``python -m infd_core`` (and ``torchrun -m infd_core``) run the ``infd`` command line."""

from infd_core.cli.main import main

if __name__ == "__main__":
    main()
