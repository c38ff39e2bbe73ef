"""The embedded broker (``filesystem://``) with messages that appear whole or not at all.

Kombu's filesystem transport creates a message file empty and then writes it, while a
worker polling the folder moves and reads any ``*.msg`` file it sees: a worker that comes
in between reads an empty file, fails to decode it and stops ("Unrecoverable error:
JSONDecodeError", celery/kombu#1551), which ends ``make run``. Here a message is written
under a name the worker ignores and renamed into place, which is atomic on one filesystem.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# Workers take only names ending in ".<queue>.msg"; this suffix keeps a file being written
# out of their sight.
WRITING_SUFFIX = ".writing"


class Channel(filesystem.Channel):
    # kombu's base and filesystem channels name the second argument differently; callers
    # pass it by position.
    def _put(self, queue: str, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Same name as kombu's: the millisecond prefix keeps the folder in sending order.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        partial = path + WRITING_SUFFIX
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(message)))
            os.replace(partial, path)
        except OSError as exc:
            try:
                os.remove(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
