"""The image upload's body limit, applied while the body streams in, not after.

Django bounds form fields (``DATA_UPLOAD_MAX_MEMORY_SIZE``) but not files: an upload is read
whole, to memory or a temporary file, before a view sees it. The upload view puts this handler
first, so a body that declares more than an image and its multipart framing is refused before
any of it is read, and one that sends more than it declared stops at the limit. Either way the
answer is the API's JSON 413 (``request_too_large``).
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler, load_handler

from ..images import MAX_BYTES

# The largest image (6 MB) and room for the multipart boundaries and part headers around it.
MAX_BODY_BYTES = MAX_BYTES + 64 * 1024


class BodySizeLimit(FileUploadHandler):
    """Refuses a multipart body past ``MAX_BODY_BYTES``; passes every byte on to the next handler."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > MAX_BODY_BYTES:
            raise RequestDataTooBig(f"Upload body of {content_length} bytes, over the limit of {MAX_BODY_BYTES}.")
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > MAX_BODY_BYTES:
            raise RequestDataTooBig(f"Uploaded file over the limit of {MAX_BODY_BYTES} bytes.")
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file, as the host configured) keeps the file


def limit_body(request):
    """Put ``BodySizeLimit`` before the host's upload handlers on ``request`` (a Django HttpRequest,
    before anything reads its body)."""
    request.upload_handlers = [BodySizeLimit(request)] + [
        load_handler(path, request) for path in settings.FILE_UPLOAD_HANDLERS
    ]
