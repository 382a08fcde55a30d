"""The `lamin_core` logger, without importing `logging` where nobody could see the message.

Python drops INFO messages of a process that configured no logging, and a process that configured any
has imported `logging`. So an INFO message of a process that never imported it is dropped right here, and
a tracked script does not pay for importing `logging` (several milliseconds) just to drop it.
"""

from __future__ import annotations

import sys
from typing import Any

NAME = "lamin_core"


def info(message: str, *args: Any) -> None:
    if "logging" in sys.modules:
        import logging

        logging.getLogger(NAME).info(message, *args)


def warning(message: str, *args: Any) -> None:
    import logging

    logging.getLogger(NAME).warning(message, *args)
