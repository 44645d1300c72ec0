from __future__ import annotations

import sys
from pathlib import Path

import torch

# The test machine is small and shared: one thread avoids oversubscription.
torch.set_num_threads(1)

sys.path.insert(0, str(Path(__file__).parent))
