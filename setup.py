"""Build script: the optional C speedups for the protocol core.

The extension is optional: when there is no compiler, or when the
environment sets ``AIOWS_NO_EXTENSIONS=1``, aiows installs as pure Python and
the core falls back to ``aiows/core/mask.py``.
"""

import os

from setuptools import Extension, setup

if os.environ.get("AIOWS_NO_EXTENSIONS"):
    ext_modules = []
else:
    ext_modules = [
        Extension(
            "aiows.core._speedups",
            ["aiows/core/_speedups.c"],
            optional=True,
            extra_compile_args=["-O3"],
        )
    ]

setup(ext_modules=ext_modules)
