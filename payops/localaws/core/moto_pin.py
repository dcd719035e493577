"""The one moto version the bridges are written against: they patch its internals."""

from __future__ import annotations

MOTO_VERSION = "5.2.5"


def require_pinned_moto(bridge: str) -> None:
    """Refuse to patch a moto other than the pinned one (its internals may have moved)."""
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"payops.localaws.services.{bridge} is pinned to moto {MOTO_VERSION}: it patches "
            f"moto=={MOTO_VERSION} internals; found moto=={moto.__version__}. "
            "Re-check the bridge against that version."
        )
