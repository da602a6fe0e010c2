"""Sample knowledge bases shipped with the package (the demo KB lives in ``demo/``)."""

from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).parent
DEMO_DIR = SAMPLES_DIR / "demo"
DEMO_LATEST_APP_VERSION = "5.4.0"  # the demo shop's current app release
