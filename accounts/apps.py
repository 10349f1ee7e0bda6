"""App config of accounts: sign-up, sign-in and out, password change and reset."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "accounts"
