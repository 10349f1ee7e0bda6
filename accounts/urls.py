"""Account routes under /accounts/ (the URL names are Django's auth names)."""

from django.contrib.auth import views as auth
from django.urls import path, reverse_lazy

from . import views


def page(view, template: str, **options):
    return view.as_view(template_name=f"accounts/{template}.html", **options)


urlpatterns = [
    path("", views.account, name="account"),
    path("signup/", views.signup, name="signup"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("delete/", views.delete_account, name="delete_account"),
    path(
        "password/change/",
        page(
            auth.PasswordChangeView,
            "password_change_form",
            success_url=reverse_lazy("password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        page(auth.PasswordChangeDoneView, "password_change_done"),
        name="password_change_done",
    ),
    path("password/reset/", views.ResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        page(auth.PasswordResetDoneView, "password_reset_done"),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        page(auth.PasswordResetConfirmView, "password_reset_confirm"),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        page(auth.PasswordResetCompleteView, "password_reset_complete"),
        name="password_reset_complete",
    ),
]
