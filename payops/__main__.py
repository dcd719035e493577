import sys

from payops.cli import main

sys.exit(main())
