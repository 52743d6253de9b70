"""What every generated API class shares."""

from __future__ import annotations

from typing import Any, ClassVar, List, Mapping, Optional

from py_sp_api.runtime.api_client import ApiClient
from py_sp_api.runtime.exceptions import ApiValueError
from py_sp_api.runtime.hal import action_names, actions_operation
from py_sp_api.runtime.operation import Operation, RateLimit
from py_sp_api.runtime.transport_security import redact_url


class BaseApi:
    """Holds the :class:`ApiClient` and the operation table of a generated API class."""

    operations: ClassVar[Mapping[str, Operation[Any]]] = {}

    def __init__(self, api_client: Optional[ApiClient] = None) -> None:
        self.api_client = api_client if api_client is not None else ApiClient()

    def __repr__(self) -> str:
        config = self.api_client.configuration
        return (
            f"{type(self).__name__}(host={redact_url(config.host)!r}, "
            f"credentials={config.credentials_summary!r}, operations={len(self.operations)})"
        )

    @classmethod
    def rate_limit(cls, method_name: str) -> RateLimit:
        """The usage plan of the operation behind ``method_name`` (e.g. ``"get_attributes"``)."""
        try:
            return cls.operations[method_name].rate_limit
        except KeyError:
            known = ", ".join(sorted(cls.operations))
            raise ApiValueError(f"unknown operation {method_name!r}; known: {known}") from None

    @classmethod
    def rate_limits(cls) -> Mapping[str, RateLimit]:
        """Every operation's usage plan, keyed by method name."""
        return {name: op.rate_limit for name, op in cls.operations.items()}

    def available_actions(self, response: Any) -> List[str]:
        """The methods an order allows, from a response with HAL ``_links.actions``.

        For Messaging, pass what ``get_messaging_actions_for_order`` returned::

            allowed = api.available_actions(api.get_messaging_actions_for_order(order, [mp]))
            if "create_warranty" in allowed:
                api.create_warranty(order, [mp], body)
        """
        return action_names(response, self.operations)

    @classmethod
    def actions_operation(cls) -> Optional[Operation[Any]]:
        """The operation that lists an order's actions (``None`` if the API has none).

        ``get_messaging_actions_for_order`` for Messaging, ``get_solicitation_actions_for_order``
        for Solicitations: code that handles either API finds the read to ask here.
        """
        return actions_operation(cls.operations)

    def order_actions(self, order_id: str, marketplace_id: str) -> List[str]:
        """Ask Amazon which actions (method names) ``order_id`` allows now.

        One call of :meth:`actions_operation`, read with :meth:`available_actions`.
        Raises :class:`ApiValueError` for an API without such an operation.
        """
        operation = self.actions_operation()
        if operation is None:
            raise ApiValueError(
                f"{type(self).__name__} has no operation listing an order's actions"
            )
        answer = self.api_client.call(operation, (order_id, [marketplace_id])).data
        return self.available_actions(answer)


__all__ = [
    "BaseApi",
]
