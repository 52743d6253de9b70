"""Generated API packages: one per Amazon model, each produced by ``python -m py_sp_api.codegen``."""
