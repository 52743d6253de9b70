"""Generates ``py_sp_api.generated.<api>`` and its docs from an Amazon Swagger 2.0 model.

Run ``python -m py_sp_api.codegen`` from the repository root to regenerate everything from the
bundled spec. The output is deterministic, and ``tests/test_codegen_drift.py`` fails when the
committed files differ from what this package produces.
"""

from py_sp_api.codegen.generate import GeneratedFile, generate, write_files

__all__ = ["GeneratedFile", "generate", "write_files"]
