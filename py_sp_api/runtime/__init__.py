"""The hand-written runtime shared by every generated API package.

Generated packages (``py_sp_api.generated.*``) hold only what their spec determines; everything
that moves bytes, validates arguments or maps errors lives here, once.
"""

from typing import List

__all__: List[str] = []
