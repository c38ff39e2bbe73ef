"""A ceiling on uploaded files, checked while the request is read.

Django bounds form fields (``DATA_UPLOAD_MAX_MEMORY_SIZE``) but not files: a file of any size
is streamed to a temporary file before a form can say it is too large. This handler, first in
``FILE_UPLOAD_HANDLERS``, stops the request as soon as its files pass ``FILE_UPLOAD_MAX_BYTES``
(a 400, like any request that is too big), so no more than that reaches memory or disk. The
forms keep their own, smaller limits and friendlier words for files under the ceiling; pages
marked with ``upload_limits`` turn the refusal of a request over the ceiling into the same
clear words (``OversizedUploadMiddleware``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse

_View = TypeVar("_View")


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


def upload_limits(words: str) -> Callable[[_View], _View]:
    """Mark a view that takes uploads with its limits in words ("up to 2 MB and 5,000
    rows"): a request too big to read comes back to its page with them, not a bare 400."""

    def mark(view: _View) -> _View:
        view.upload_limits = words  # type: ignore[attr-defined]
        return view

    return mark


class OversizedUploadMiddleware:
    """Reads the body of a POST to a view marked with :func:`upload_limits` before the CSRF
    check does; when it is over Django's limits (``DATA_UPLOAD_MAX_MEMORY_SIZE``,
    ``FILE_UPLOAD_MAX_BYTES``), the person is sent back to the page with the limits in words
    (the API answers 413 in its own shape). Nothing of the request is acted on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        words = getattr(view_func, "upload_limits", None)
        if words is None:
            cls = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
            words = getattr(cls, "upload_limits", None)
        if words is None or request.method != "POST":
            return None
        try:
            request.POST  # noqa: B018  # reading it is the point: the limits apply here
            request.FILES  # noqa: B018
        except RequestDataTooBig:
            return _refusal(request, str(words))
        return None


def _refusal(request: HttpRequest, words: str) -> HttpResponse:
    size = int(request.META.get("CONTENT_LENGTH") or 0)
    said = f" ({size / 1024 / 1024:.1f} MB)" if size else ""
    message = (
        f"The upload is too large to read{said}: files {words} are accepted. Split it into "
        "smaller files and upload them one by one."
    )
    if request.path.startswith("/api/"):
        body = {"error": {"code": "too_large", "message": message, "fields": {}}}
        return JsonResponse(body, status=413)
    messages.error(request, message)
    return HttpResponseRedirect(request.path, status=303)
