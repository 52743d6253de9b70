"""Reading HAL (``_links``) answers: which operations an order allows."""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping
from urllib.parse import urlsplit

from py_sp_api.runtime.operation import Operation


def action_names(response: Any, operations: Mapping[str, Operation[Any]]) -> List[str]:
    """The method names of the actions listed under ``_links.actions`` of ``response``.

    An action whose link matches no known operation (one Amazon added after this client was
    generated) is left out rather than guessed.
    """
    patterns = [(op.path_pattern, name) for name, op in operations.items() if op.method == "POST"]
    links = getattr(response, "links", None)
    actions: Iterable[Any] = getattr(links, "actions", None) or []
    names: List[str] = []
    for action in actions:
        path = urlsplit(getattr(action, "href", None) or "").path
        for pattern, name in patterns:
            if pattern.fullmatch(path) and name not in names:
                names.append(name)
                break
    return names
