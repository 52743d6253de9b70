"""Reading HAL (``_links``) answers: which operations an order allows."""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping, Optional
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


def actions_operation(operations: Mapping[str, Operation[Any]]) -> Optional[Operation[Any]]:
    """The read that lists an order's actions, or ``None`` if the API has none.

    In Amazon's HAL APIs (Messaging, Solicitations) every action is a POST under the order's
    resource, and a GET of that resource lists the actions the order allows now
    (``getMessagingActionsForOrder``, ``getSolicitationActionsForOrder``): it is the GET whose
    path each POST's path extends.
    """
    posts = [op.path for op in operations.values() if op.method == "POST"]
    if not posts:
        return None
    for operation in operations.values():
        prefix = operation.path + "/"
        if operation.method == "GET" and all(path.startswith(prefix) for path in posts):
            return operation
    return None


__all__ = [
    "action_names",
    "actions_operation",
]
