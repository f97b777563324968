import sys

from quarantine.cli import main

sys.exit(main())
