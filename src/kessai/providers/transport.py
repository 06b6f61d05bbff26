"""What can go wrong on a provider's wire, told apart by whether the request may have
reached the provider (every connector's http layer raises these).

- NotSent: no connection was made (refused, DNS, connect timeout): nothing happened;
- NoAnswer: sent, and no usable answer (timeout, reset, 5xx, a body that is not the
  provider's): the outcome is unknown until a lookup says.
`reason` is safe to show and to log: it never carries parameters.
"""


class TransportError(Exception):
    def __init__(self, call: str, reason: str) -> None:
        super().__init__(f"{call}: {reason}")
        self.call = call
        self.reason = reason


class NotSent(TransportError):
    """Nothing reached the provider."""


class NoAnswer(TransportError):
    """The request may have been processed; the answer was lost."""
