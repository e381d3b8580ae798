"""Plain HTTP calls to the emulator under test, as curl would make them."""

from urllib.request import Request, urlopen


def http(emulator_server, method, path, body=None, headers=None):
    """Return (status, headers, body) of one call; an error answer is returned, not raised."""
    request = Request(f"{emulator_server.endpoint}{path}", data=body, method=method, headers=headers or {})
    try:
        with urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except Exception as error:  # HTTPError carries the answer
        return error.code, dict(error.headers), error.read()
