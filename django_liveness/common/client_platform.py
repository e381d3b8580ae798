"""The person's client platform, coarsely: browser family and OS family from the User-Agent.

Nothing finer is kept (no version, device model or the string itself): enough to see that genuine
people fail more often on one platform, too little to tell anyone apart (docs/privacy.md).
"""

from django.utils.translation import gettext, pgettext
from ua_parser import parse_os, parse_user_agent

FAMILY_MAX_LENGTH = 64  # LivenessSession.client_browser / client_os


def client_platform(user_agent):
    """Return ``(browser_family, os_family)`` of ``user_agent``: ``("", "")`` without one, and
    ua-parser's ``"Other"`` for what it does not recognise."""
    if not user_agent:
        return "", ""
    browser = parse_user_agent(user_agent)
    system = parse_os(user_agent)
    return (
        (browser.family if browser else "Other")[:FAMILY_MAX_LENGTH],
        (system.family if system else "Other")[:FAMILY_MAX_LENGTH],
    )


def platform_label(browser, os):
    """A client platform as staff read it: "Chrome / Windows"; an empty family is "Unknown"."""
    return pgettext("client platform: browser / OS", "%(browser)s / %(os)s") % {
        "browser": browser or gettext("Unknown"),
        "os": os or gettext("Unknown"),
    }
