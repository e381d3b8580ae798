"""The emulator of this process: its sessions, its faults and the key it accepts."""

from .core import Emulator
from .faults import Faults

emulator = Emulator()
faults = Faults()
# Set by the standalone server (--key); None means LIVENESS['EMULATOR_KEY'].
key_override = None


def subscription_key():
    if key_override is not None:
        return key_override
    from ..conf import liveness_settings

    return liveness_settings.EMULATOR_KEY


def reset():
    """Forget every session and disarm every fault (for tests)."""
    global emulator
    emulator = Emulator()
    faults.reset()
