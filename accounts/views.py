"""Account pages: Django's auth views in partyhub's look (templates in
accounts/templates/accounts/), plus sign-up and deleting an account.

Nothing here is needed to play or host: a guest does both as before.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from .forms import DeleteAccountForm, SignInForm, SignUpForm


def _next_url(request: HttpRequest) -> str:
    """Where to go after signing up: ?next= when it is on this site, else home."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return settings.LOGIN_REDIRECT_URL


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and sign in."""
    if request.user.is_authenticated:
        return redirect("account")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(_next_url(request))
    context = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
    return render(request, "accounts/signup.html", context, status=400 if form.errors else 200)


class SignInView(auth.LoginView):
    """Django's sign-in; 429 while the username is over its limit of failures."""

    template_name = "accounts/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 429 if form.throttled() else 400
        return response


class ResetView(auth.PasswordResetView):
    """Django's password reset (the email: accounts/password_reset_email.txt;
    requests per address: lobby.ratelimit's `account` limit)."""

    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """The signed-in user's page: who they are and where their things are."""
    return render(request, "accounts/account.html")


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    """Delete the account with its presets and packs (after its password)."""
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        user.delete()  # presets cascade; packs go through lobby.packs (a signal)
        return render(request, "accounts/deleted.html")
    status = 400 if form.errors else 200
    return render(request, "accounts/delete.html", {"form": form}, status=status)
