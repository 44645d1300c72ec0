"""A stand-in for torchsparse in tests: the published semantics of sphash and sphashquery, in torch.

Not torchsparse: it lets the adapter be tested where torchsparse (not on PyPI) is not built.
``__version__`` selects the release behaviour: from 2.1 on, ``sphashquery`` pads rows to 128.
"""

__version__ = "2.1.0"
