"""Integrations with engines sellers already run; each needs its extra (e.g. ``[celery]``).

Nothing here is imported by ``import py_sp_api``: import the submodule you use.
"""
