"""The local AWS: moto (pinned in core/moto_pin.py) plus the project's bridges for its gaps.

One folder per AWS service under services/ (its patches, CloudFormation resource bridges,
deploy checks and speed-ups), the shared parts under core/, stack deployment under deploy/,
the fake Stripe API under fakes/. `install()` applies every service's patches or none;
`bridges()` lists every moto gap bridged (`payops local` prints them).
"""

from __future__ import annotations

from payops.localaws.core.registry import gaps as bridges
from payops.localaws.core.registry import install, is_installed, uninstall

__all__ = ["bridges", "install", "is_installed", "uninstall"]
