from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

# Without CUDA, the Triton kernels run in Triton's interpreter; it must be chosen before triton loads.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

sys.path.insert(0, str(Path(__file__).parent))
