"""``python -m neurarust ...`` is the ``neurarust`` command."""
import sys

from neurarust.cli import main

sys.exit(main())
