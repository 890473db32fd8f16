"""Settings, read once from the environment.

Every value comes from an environment variable (or `.env` if present) through
django-environ. The defaults are the embedded development setup: SQLite and
Celery's filesystem broker under `DATA_DIR`, so `python3 dev.py run` needs no
server. A malformed value stops start-up with ImproperlyConfigured naming the
variable.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path
from urllib.parse import urlparse

import environ
import phonenumbers
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

# Every variable the settings read, with its default. tests/test_compose.py
# parses this file and checks that docker-compose.yml passes each of them (with
# the same default) to web, worker and beat, but for the few it lists as exempt,
# and nothing else.
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A boolean that refuses anything but an explicit yes/no spelling."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true/false, 1/0, yes/no or on/off.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.str(name, default=str(default)).strip()
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}.")
    return value


def env_rate(name: str, default: str) -> str:
    """A request rate as DRF's throttles read it: a number, "/", and s, m, h or d (60/min)."""
    value = env.str(name, default=default).strip()
    if not re.fullmatch(r"[0-9]+/[smhd][a-z]*", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as 60/min, 10/s, 1000/hour or 5000/day.")
    return value


def env_url(name: str, default: str, *, schemes: set[str]) -> str:
    value = env.str(name, default=default).strip()
    scheme = urlparse(value).scheme
    if scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(f"{name}={value!r} has scheme {scheme!r}; expected one of: {allowed}.")
    return value


DEBUG = env_bool("DJANGO_DEBUG", False)
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / ".data")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-debug"  # noqa: S105
# Keys retired by a rotation (comma-separated), still accepted for what was signed with them while it
# lives out: logins, password resets and the patients' signed links (Django's own signing), the FHIR
# ids and page links (interop/fhir/ids.py, paging.py). New signatures use SECRET_KEY only.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base of links put in reminders (confirm/cancel, calendar feeds).
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our own static files (offline, CSP)
    "simple_history",
    "phonenumber_field",
    "django_htmx",
    "csp",
    "clinic",
    "patients",
    "scheduling",
    "clinical",
    "measures",
    "interop",
    "clinic.security",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "clinic.api_errors.ApiErrorShapeMiddleware",  # every /api/ answer in the API's JSON error shape
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "clinic.security.middleware.IdleTimeoutMiddleware",
    "clinic.security.middleware.SecondFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "clinic.middleware.AccessLogMiddleware",
    "clinic.security.middleware.NoStoreMiddleware",
    # Last, so it sees the lockout flag the login view's failed attempt set.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
CSRF_FAILURE_VIEW = "clinic.api_errors.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The web app's own folder first, so its base.html and registration/ pages win over any other app's.
        "DIRS": [BASE_DIR / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
)
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The embedded default. IMMEDIATE takes the write lock at BEGIN, so the
    # service layer's overlap check and its insert cannot interleave with
    # another writer (PostgreSQL's exclusion constraints do this job there).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "clinic.security.passwords.RepetitivePasswordValidator"},
]
# Axes first: it refuses a locked-out client before the password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# A password-reset link works for an hour, once (clinic.security.password_reset).
PASSWORD_RESET_TIMEOUT = 3600

LANGUAGE_CODE = "en-us"
# Stored instants are UTC; each site and patient carries its own IANA zone.
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"DJANGO_TIME_ZONE={TIME_ZONE!r} is not an IANA time zone.") from None
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Transport and browser security ----------------------------------------
# Strict by default when debug is off (production); each can be relaxed from the environment,
# e.g. for a compose stack tried out on plain http://localhost.
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# The compose and load-balancer health checks speak plain HTTP to the app itself.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_HSTS_SECONDS > 0)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
# Behind a TLS-terminating proxy, the header (WSGI name) it sets to "https", e.g.
# HTTP_X_FORWARDED_PROTO. Only set it when the proxy always overwrites that header.
_proxy_ssl_header = env.str("DJANGO_SECURE_PROXY_SSL_HEADER", default="").strip()
if _proxy_ssl_header and not re.fullmatch(r"HTTP_[A-Z0-9_]+", _proxy_ssl_header):
    raise ImproperlyConfigured(
        f"DJANGO_SECURE_PROXY_SSL_HEADER={_proxy_ssl_header!r} must be a WSGI header name such as HTTP_X_FORWARDED_PROTO."
    )
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
# How many proxies we run in front of the app, each appending to X-Forwarded-For. Lockout and the
# bad-token throttle count the client that the nearest of them saw; with 0 they use REMOTE_ADDR
# (behind an uncounted proxy, every client would share the proxy's address).
TRUSTED_PROXY_COUNT = env_int("DJANGO_TRUSTED_PROXY_COUNT", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Pages load nothing but our own files; a script runs only from a file or with the request's nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Sign-in: lockout, idle timeout, second factor, API tokens ---------------
# Failed sign-ins (password or second-factor code) per username and address, and bad API
# tokens per address, before that client is refused for the cool-off.
AUTH_FAILURE_LIMIT = env_int("AUTH_FAILURE_LIMIT", 5, minimum=1)
AUTH_COOLOFF = dt.timedelta(minutes=env_int("AUTH_COOLOFF_MINUTES", 15, minimum=1))
AXES_FAILURE_LIMIT = AUTH_FAILURE_LIMIT
AXES_COOLOFF_TIME = AUTH_COOLOFF
# Username and address together: a typo-prone front desk behind one clinic NAT cannot lock out
# everyone, and nobody elsewhere can lock a clinician out by guessing at her username.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "clinic.security.authentication.lockout_client_ip"  # an IPv6 client by its /64
AXES_LOCKOUT_CALLABLE = "clinic.security.lockout.lockout_response"
# Control characters (a NUL, which PostgreSQL refuses) in the username, user agent, Accept header
# or path are replaced before axes counts and keeps a failed attempt: no 500, no uncounted guess.
AXES_HANDLER = "clinic.security.lockout.LockoutHandler"
AXES_USERNAME_CALLABLE = "clinic.security.lockout.lockout_username"
AXES_VERBOSE = False
# Sign-ins are already recorded in the clinic's own access log.
AXES_DISABLE_ACCESS_LOG = True
# Idle time after which a signed-in person is signed out: short for staff at shared
# workstations, longer for patients on their own devices.
SESSION_IDLE_TIMEOUT_STAFF = dt.timedelta(minutes=env_int("SESSION_IDLE_MINUTES_STAFF", 20, minimum=1))
SESSION_IDLE_TIMEOUT_PATIENT = dt.timedelta(minutes=env_int("SESSION_IDLE_MINUTES_PATIENT", 720, minimum=1))
SESSION_COOKIE_AGE = int(max(SESSION_IDLE_TIMEOUT_STAFF, SESSION_IDLE_TIMEOUT_PATIENT).total_seconds())
# Staff roles that must sign in with a second factor (TOTP), e.g. "prescriber,clinic_admin".
REQUIRE_2FA_ROLES = frozenset(env.list("REQUIRE_2FA_ROLES", default=[]))
_unknown_roles = REQUIRE_2FA_ROLES - {"front_desk", "nurse", "prescriber", "clinic_admin"}
if _unknown_roles:
    raise ImproperlyConfigured(f"REQUIRE_2FA_ROLES names unknown roles: {', '.join(sorted(_unknown_roles))}.")
OTP_TOTP_ISSUER = "Infusion clinic"
# API tokens (django-rest-knox): only a hash is stored, and each expires.
# At most this many unexpired tokens per user (clinic.security.services.token_issue).
API_TOKEN_LIMIT_PER_USER = env_int("API_TOKEN_LIMIT_PER_USER", 20, minimum=1)
REST_KNOX = {
    "TOKEN_TTL": dt.timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 10, minimum=1)),
    "AUTH_HEADER_PREFIX": "Token",
}

# --- Mail and SMS -----------------------------------------------------------
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)  # smtp+ssl:// (implicit TLS, port 465)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Infusion clinic <no-reply@clinic.example>")
if EMAIL_BACKEND == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(DATA_DIR / "outbox"))

TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
# Real text messages once Twilio credentials are set; the console otherwise. Empty is unset (compose
# passes it empty when the operator sets nothing), so credentials alone switch to Twilio there too.
SMS_BACKEND = env.str("SMS_BACKEND", default="") or (
    "scheduling.reminders.sms.TwilioSmsBackend" if TWILIO_ACCOUNT_SID else "scheduling.reminders.sms.ConsoleSmsBackend"
)
SMS_FILE_PATH = env.str("SMS_FILE_PATH", default=str(DATA_DIR / "sms-outbox"))
# A claimed reminder is the dispatcher's for this long; another may take it over
# after. Every SMTP and SMS call gives up well before, so a slow provider cannot
# outlive the lease and let a second dispatcher send the same message.
REMINDER_LEASE_SECONDS = env_int("REMINDER_LEASE_SECONDS", 300, minimum=30)
REMINDER_SEND_TIMEOUT_SECONDS = env_int("REMINDER_SEND_TIMEOUT_SECONDS", 30, minimum=1)
if REMINDER_SEND_TIMEOUT_SECONDS * 2 > REMINDER_LEASE_SECONDS:
    raise ImproperlyConfigured("REMINDER_SEND_TIMEOUT_SECONDS must be at most half of REMINDER_LEASE_SECONDS.")
EMAIL_TIMEOUT = REMINDER_SEND_TIMEOUT_SECONDS

# --- Celery -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    REDIS_URL or "filesystem://",
    schemes={"redis", "rediss", "filesystem", "memory", "amqp"},
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(DATA_DIR / "broker-processed"),
        # Otherwise kombu puts its control exchange in ./control of the working directory.
        "control_folder": str(DATA_DIR / "broker-control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = env.str("CELERY_BEAT_SCHEDULE_FILENAME", default=str(DATA_DIR / "celerybeat-schedule"))
# How often beat asks the dispatcher for due reminders, in seconds.
REMINDER_DISPATCH_EVERY = env_int("REMINDER_DISPATCH_EVERY", 30, minimum=1)
# Extra dispatcher tasks a beat tick's dispatcher enqueues when it finds a
# backlog, so every worker helps instead of one.
REMINDER_DISPATCH_FAN_OUT = env_int("REMINDER_DISPATCH_FAN_OUT", 3)
# --- Day templates and day plans (CP-SAT, scheduling.engine.day_template) ------
# Wall-clock limits, in seconds, of one day-template solve and of one day's plan. Most solves
# stop once their count is proven (or their deterministic work budget is spent), well inside
# them; a template of nurses on different shifts not proven quickly refines for about half its
# limit. A slow or busy server may need longer ones to prove a day (cut short, a template comes
# back FEASIBLE). The Celery tasks' own time limits are derived from these (scheduling/tasks.py).
# The template's default is the engine's (DEFAULT_TIME_LIMIT_SECONDS, held by bench/day_template.py).
DAY_TEMPLATE_TIME_LIMIT_SECONDS = env_int("DAY_TEMPLATE_TIME_LIMIT_SECONDS", 10, minimum=1)
DAY_PLAN_TIME_LIMIT_SECONDS = env_int("DAY_PLAN_TIME_LIMIT_SECONDS", 30, minimum=1)
# --- HL7 SIU feed (interop.siu); receivers are set per site in the admin --------
# How often beat runs SIU delivery, in seconds.
SIU_DELIVER_EVERY = env_int("SIU_DELIVER_EVERY", 30, minimum=1)
# Failed attempts (AE/AR, no ACK, malformed ACK, receiver down) before a message is parked.
SIU_MAX_ATTEMPTS = env_int("SIU_MAX_ATTEMPTS", 10, minimum=1)
# Backoff after the n-th failed attempt: base * 2**(n-1) seconds, at most the maximum.
SIU_RETRY_BASE_SECONDS = env_int("SIU_RETRY_BASE_SECONDS", 30, minimum=1)
SIU_RETRY_MAX_SECONDS = env_int("SIU_RETRY_MAX_SECONDS", 3600, minimum=1)
# A claimed message is the sender's for this long; a run starts no message after half of it,
# so with ACK timeouts of at most 120 s no message can outlive its claim.
SIU_LEASE_SECONDS = env_int("SIU_LEASE_SECONDS", 900, minimum=300)
# How long a process trusts its map of which sites have an enabled receiver.
SIU_RECEIVER_CACHE_SECONDS = env_int("SIU_RECEIVER_CACHE_SECONDS", 30, minimum=0)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-reminders": {
        "task": "scheduling.tasks.dispatch_due_reminders",
        "schedule": float(REMINDER_DISPATCH_EVERY),
        "options": {"expires": float(REMINDER_DISPATCH_EVERY)},
    },
    # Offers whose task was lost while the broker was down (scheduling.services.waitlist).
    "sweep-waitlist-offers": {
        "task": "scheduling.tasks.waitlist_offers_sweep",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    # Notices of a changed contact email whose own task was lost (the broker was down; patients.notices).
    "sweep-email-change-notices": {
        "task": "patients.tasks.email_change_notices_sweep",
        "schedule": 300.0,
        "options": {"expires": 300.0},
    },
    # The HL7 SIU outbox: anything a booking's own on-commit task did not send (interop.siu).
    "deliver-siu-messages": {
        "task": "interop.tasks.siu_deliver",
        "schedule": float(SIU_DELIVER_EVERY),
        "options": {"expires": float(SIU_DELIVER_EVERY)},
    },
    # Hourly; each site's list goes out once, at the site's local afternoon hour.
    "send-front-desk-daily-lists": {
        "task": "scheduling.tasks.send_front_desk_daily_lists",
        "schedule": crontab(minute=5),
        "options": {"expires": 3000},
    },
    # Level sites: the coming days whose bookings left the day template's rhythm are solved again
    # around them (scheduling.services.day_plans); a run with nothing changed solves nothing.
    "refresh-day-plans": {
        "task": "scheduling.tasks.refresh_day_plans",
        "schedule": 600.0,
        "options": {"expires": 600.0},
    },
    # Holds (FHIR $hold) lapse after FHIR_HOLD_MINUTES; this frees their time.
    "release-expired-holds": {
        "task": "scheduling.tasks.release_expired_holds",
        "schedule": 60.0,
        "options": {"expires": 60.0},
    },
    # $find's reasons no proposal id in date names (FHIR_PROPOSAL_MAX_AGE_HOURS) are deleted.
    "purge-find-reasons": {
        "task": "interop.tasks.find_reasons_purge",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
# --- FHIR R4 server (interop.fhir) ------------------------------------------
# How long a $hold keeps its chair, nurse and patient before it lapses.
FHIR_HOLD_MINUTES = env_int("FHIR_HOLD_MINUTES", 10, minimum=1)
# How long a proposal from $find can be held or booked, counted from the hour it was given out in
# (so at least an hour less); the reason it was found with is kept no longer.
FHIR_PROPOSAL_MAX_AGE_HOURS = env_int("FHIR_PROPOSAL_MAX_AGE_HOURS", 24, minimum=2)
# The identifier system of the EHR's medical record numbers (Patient.identifier.system).
FHIR_MRN_SYSTEM = env.str("FHIR_MRN_SYSTEM", default="urn:clinic-scheduler:mrn")

# --- Cache (idempotency keys, throttling) -----------------------------------
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "clinic.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "clinic.security.authentication.ClinicTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "clinic.api_filters.ScopedFilterBackend",  # filters that name rows accept only rows the asker may see
        "clinic.api_filters.StrictOrderingFilter",  # refuses what it cannot order by; ties end on the id
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "clinic.api_errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [  # DRF's, counting a client by client_ip (an IPv6 one by its /64)
        "clinic.security.throttles.ClientAnonRateThrottle",
        "clinic.security.throttles.ClientUserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "60/min"),
        "user": env_rate("API_THROTTLE_USER", "6000/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Infusion clinic scheduling API",
    "DESCRIPTION": "Patients, infusion plans, appointments and reminders for ketamine infusion clinics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RouteEnum": "clinic.models.Route",
        "ChannelEnum": "clinic.models.Channel",
        # Two choice sets are called `phase`: a plan's (induction/maintenance) and a vital-signs reading's.
        "PhaseEnum": "scheduling.models.Phase",
        "VitalsPhaseEnum": "clinical.models.VitalsPhase",
        "AppointmentStatusEnum": "scheduling.models.AppointmentStatus",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="US").strip()
if PHONENUMBER_DEFAULT_REGION not in phonenumbers.SUPPORTED_REGIONS:
    raise ImproperlyConfigured(
        f"PHONENUMBER_DEFAULT_REGION={PHONENUMBER_DEFAULT_REGION!r} is not a region code such as US, CA or GB."
    )


def env_clock(name: str, default: str) -> dt.time:
    raw = env.str(name, default=default).strip()
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a time of day; use HH:MM, e.g. 07:00.") from None


# The front desk checks a patient in only on the session's own day in the site's zone,
# from this local time on: a session a week ahead cannot be checked in by mistake.
CHECK_IN_OPENS_AT = env_clock("CHECK_IN_OPENS_AT", "00:00")
# The least monitoring after the administration ends before a patient may be discharged.
DISCHARGE_MIN_MONITORING_MINUTES = env_int("DISCHARGE_MIN_MONITORING_MINUTES", 30, minimum=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's own console handler would print every line a second time in debug mode.
        "django": {"handlers": ["console"], "propagate": False},
        # A refused request (403, 404) is an answer, not a fault: the access log records it. Only
        # server errors are logged here, with their traceback.
        "django.request": {"level": "ERROR"},
    },
}

# History rows keep a change's reason whole (an undo's, an override's): a text column, not 100 characters.
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
