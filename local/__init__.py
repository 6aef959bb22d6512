"""The embedded local stack: moto, an API Gateway emulator, a Twilio-compatible carrier simulator."""

import sys
from pathlib import Path

# The handlers import the shared layer as Lambda does (``autocall`` at the top level): put the
# layer's folder on the path for ``python -m local`` and ``python -m local.demo``.
_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "common")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
