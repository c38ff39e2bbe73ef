"""A ceiling on uploaded files, checked while the request is read.

Django bounds form fields (``DATA_UPLOAD_MAX_MEMORY_SIZE``) but not files: a file of any size
is streamed to a temporary file before a form can say it is too large. This handler, first in
``FILE_UPLOAD_HANDLERS``, stops the request as soon as its files pass ``FILE_UPLOAD_MAX_BYTES``
(a 400, like any request that is too big), so no more than that reaches memory or disk. The
forms keep their own, smaller limits and friendlier words for files under the ceiling.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler


class SizeLimitedUploadHandler(FileUploadHandler):
    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = int(settings.FILE_UPLOAD_MAX_BYTES)
        self.received = 0

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        # A declared length over the ceiling (with room for the form's other fields) is
        # refused before a byte of it is read.
        if content_length > self.limit + int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0):
            raise RequestDataTooBig("The upload is larger than FILE_UPLOAD_MAX_BYTES.")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise RequestDataTooBig("The upload is larger than FILE_UPLOAD_MAX_BYTES.")
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers store the file
