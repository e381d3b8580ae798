"""DRF's parsers, with every unparseable body a 400: a deeply nested JSON document raised
RecursionError, and a multipart body whose parts Django could not read (no ``Content-Disposition``
with a name, RFC 7578) was read as an empty form, so a PATCH of garbage answered 200."""

from django.utils.http import parse_header_parameters
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - the document is nested too deeply.")) from None


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        recording = _Recording(stream)
        parsed = super().parse(recording, media_type, parser_context)
        if not parsed.data and not parsed.files and _has_content(recording.head, media_type, recording.complete):
            raise ParseError(_("Multipart form parse error - every part needs a Content-Disposition header with a name."))
        return parsed


def _has_content(head, media_type, complete):
    """Whether a multipart body of which no part was read holds more than its boundaries."""
    if not complete:
        return True  # more than _Recording.KEEP bytes and nothing read: not an empty form
    boundary = parse_header_parameters(media_type or "")[1].get("boundary", "").encode("latin-1", "replace")
    if not boundary:
        return bool(head.strip())
    return bool(head.replace(b"--" + boundary + b"--", b"").replace(b"--" + boundary, b"").strip())


class _Recording:
    """A request stream that keeps the first bytes it hands out."""

    KEEP = 64 * 1024

    def __init__(self, stream):
        self.stream = stream
        self.head = b""
        self.complete = True

    def read(self, *args):
        data = self.stream.read(*args)
        if len(self.head) + len(data) <= self.KEEP:
            self.head += data
        else:
            self.complete = False
        return data
