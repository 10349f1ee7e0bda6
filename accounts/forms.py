"""The account forms: Django's own, with an email at sign-up and the
limit of failed sign-ins per username (accounts.throttle)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import throttle

THROTTLED = "throttled"


class SignUpForm(UserCreationForm):
    """Username, email (for a forgotten password) and a password that
    Django's validators accept (AUTH_PASSWORD_VALIDATORS)."""

    email = forms.EmailField(
        label=_("Email"),
        help_text=_("Only to reset a forgotten password."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise ValidationError(_("An account with this email exists already."), code="taken")
        return email


class SignInForm(AuthenticationForm):
    """Django's sign-in, refused while the username is over its limit of
    failed attempts (per address: lobby.ratelimit's `account` limit)."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        wait = throttle.wait_seconds(username)
        if wait:
            raise ValidationError(throttle.message(wait), code=THROTTLED)
        try:
            cleaned = super().clean()
        except ValidationError:
            throttle.failed(username)
            raise
        throttle.succeeded(username)
        return cleaned

    def throttled(self) -> bool:
        return any(e.code == THROTTLED for e in self.errors.as_data().get("__all__", []))


class DeleteAccountForm(forms.Form):
    """Deleting an account asks for its password."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("That is not your password."), code="password_incorrect")
        return password
