"""The op set: registry entries (NumPy references, samples) and their Triton kernels.

Importing this package registers every entry; it imports NumPy only. Each family's Triton kernels
live in a ``*_triton.py`` module beside its entries and are imported on first Triton use.
"""
from . import elementwise  # noqa: F401
from . import unary  # noqa: F401
from . import binary  # noqa: F401
from . import creation  # noqa: F401
from . import reduction  # noqa: F401
from . import scan  # noqa: F401
from . import softmax  # noqa: F401
from . import matmul  # noqa: F401
from . import linalg  # noqa: F401
from . import linalg_lu  # noqa: F401
from . import linalg_spectral  # noqa: F401
from . import sorting  # noqa: F401
from . import movement  # noqa: F401
from . import random  # noqa: F401
from . import indexing  # noqa: F401
from . import loss  # noqa: F401
from . import norm  # noqa: F401
from . import conv  # noqa: F401
from . import pool  # noqa: F401
from . import optim  # noqa: F401
from . import attention  # noqa: F401
from . import ctc  # noqa: F401
from . import quantized  # noqa: F401
from . import search  # noqa: F401
from . import cumextrema  # noqa: F401
from . import special  # noqa: F401
