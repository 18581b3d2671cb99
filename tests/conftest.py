import os
import warnings

# The kernels run on CPU tensors through Triton's interpreter: it must be on before Triton loads.
os.environ.setdefault("TRITON_INTERPRET", "1")
os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

from hypothesis import settings  # noqa: E402

settings.register_profile("neurarust", deadline=None, max_examples=60)
settings.load_profile("neurarust")

# Masked-off lanes of interpreted kernels still compute (e.g. 0 / 0): NumPy warns, results are right.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"triton\..*")
