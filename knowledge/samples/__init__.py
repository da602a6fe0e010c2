"""Sample knowledge bases shipped with the package (the demo KB lives in ``demo/``)."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).parent / "demo"
