from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "clinic.security"
    label = "clinic_security"
    verbose_name = "Sign-in security"

    def ready(self) -> None:
        from django.contrib import admin

        from clinic.security import receivers  # noqa: F401  (connects the signal receivers)
        from clinic.security.views import admin_has_permission, admin_login

        # One way in: the admin's own login form would skip the second-factor step.
        admin.site.login = admin_login
        # The admin is not scoped to sites: only superusers and clinic-wide staff get in.
        admin.site.has_permission = admin_has_permission
