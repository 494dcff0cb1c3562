"""The one exception the engine raises for bad outside input.

Every parser of outside input (commands, decimal amounts) raises :class:`InvalidInput`
with the offending field and the reason, so an RPC reply or a scenario error can say
exactly what was wrong without guessing from a message string.
"""


class InvalidInput(ValueError):
    """Input that cannot be accepted; ``field`` names it and ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
