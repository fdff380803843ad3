import sys

from ex2.cli import main

sys.exit(main())
