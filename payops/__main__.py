import sys

from payops.cli import run

sys.exit(run())
