"""Who is signed in, for the JSON API: Django's session, with CSRF checked.

The API's views are csrf_exempt: its clients are scripts and pages holding
bearer tokens, which a forged cross-site request cannot carry. A call that
carries a signed-in session (a preset, a pack, a game created from them) is
checked as Django checks a form, as REST framework's SessionAuthentication
does: the Origin, and the token of the `csrftoken` cookie in the
X-CSRFToken header. A failed check is 403 CSRF_FAILED; without a session
the caller is a guest.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _

from .errors import GameError

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason  # the reason, instead of Django's HTML 403 page


def session_user(request: HttpRequest):
    """The signed-in user (CSRF checked for unsafe methods), or None for a guest."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if request.method not in SAFE_METHODS:
        check = _CsrfCheck(lambda _request: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            message = _(
                "CSRF check failed (%(reason)s): send the csrftoken cookie's value "
                "in an X-CSRFToken header, from a page of this site."
            )
            raise GameError(403, "CSRF_FAILED", message % {"reason": reason})
    return user


def require_user(request: HttpRequest):
    """The signed-in user; 401 SIGN_IN_REQUIRED for a guest."""
    user = session_user(request)
    if user is None:
        raise GameError(401, "SIGN_IN_REQUIRED", _("Sign in to keep presets and packs."))
    return user
