"""hubcourse settings, read from the environment (a ``.env`` file beside manage.py is optional).

HUBCOURSE_ENV picks the defaults: ``development`` (the embedded default: SQLite, a Celery
broker that needs no server, the sandbox standing in for Docker Hub and GitHub), ``test``,
or ``production`` (every secret required, ``manage.py check --deploy`` clean).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from hubcourse import __version__
from hubcourse.env import (
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
    env_url,
)

# Lets model admins and querysets be subscripted at run time, as the type stubs expect.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# The process environment wins over .env, so CI and docker-compose stay in charge.
load_dotenv(BASE_DIR / ".env", override=False)

HUBCOURSE_ENV = env_choice("HUBCOURSE_ENV", "development", ("development", "test", "production"))
PRODUCTION = HUBCOURSE_ENV == "production"
HUBCOURSE_VERSION = __version__

VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
# What `make run` points its processes at (the sandbox's port and credentials), so that
# manage.py in a second shell talks to the same sandbox. Development only; the environment
# and .env win over it.
DEV_ENV_FILE = VAR_DIR / "dev.env"
if HUBCOURSE_ENV == "development":
    load_dotenv(DEV_ENV_FILE, override=False)
# Set by `make run` for the processes it starts: /healthz then trusts only their heartbeats.
HUBCOURSE_RUN_ID = env_str("HUBCOURSE_RUN_ID")

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "SECRET_KEY is required in production: set it to a long random string, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'."
        )
    SECRET_KEY = "django-insecure-development-only-hubcourse-key-change-me"  # noqa: S105
elif PRODUCTION and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production.")

DEBUG = env_bool("DEBUG", default=HUBCOURSE_ENV == "development")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is required in production (comma-separated host names)."
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The public address of this hubcourse, used in links sent by email and in webhook URLs.
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "csp",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from the package, no CDN
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "hubcourse",
    "accounts",
    "repositories",
    "builds",
    "onboarding",
    "dashboard",
    "organisation",
    "student",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before the CSRF check, which reads the body first and would answer a bare 400.
    "django.contrib.messages.middleware.MessageMiddleware",
    "hubcourse.uploads.OversizedUploadMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Content-Security-Policy on every response (django-csp): no inline script anywhere.
    "csp.middleware.CSPMiddleware",
    "hubcourse.secrets.SecretDecryptErrorMiddleware",
]
if PRODUCTION:
    # Static files straight after the security headers, before sessions and the rest.
    # (Development's runserver serves them itself; tests do not need them.)
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "hubcourse.urls"
WSGI_APPLICATION = "hubcourse.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "hubcourse.context_processors.site",
            ],
        },
    },
]

# Database: SQLite on the embedded default, PostgreSQL in production.
_default_db = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
_db_url = env_str("DATABASE_URL", _default_db)
try:
    DATABASES: dict[str, dict[str, Any]] = {
        "default": dict(dj_database_url.parse(_db_url, conn_max_age=60, conn_health_checks=True))
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL we understand: {exc}") from exc
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a worker writes; IMMEDIATE transactions take the
    # write lock up front instead of failing with "database is locked" half-way.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DATABASE_URL must point at PostgreSQL in production (postgres://user:pass@host/db)."
        )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Argon2 first, as Django recommends, with OWASP's parameters (hubcourse/hashers.py): PBKDF2
# at Django's 1M iterations made each sign-in take 1.2-1.8 s on a small server, and Argon2
# with Django's own 100 MiB still 0.4-0.8 s. The hashers after it still check older hashes,
# and Django re-hashes such a password with these parameters at its owner's next sign-in.
PASSWORD_HASHERS = [
    "hubcourse.hashers.OWASPArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# Production serves collected files through whitenoise: names carry a hash of the content,
# so they are cached for ever (far-future Cache-Control), and gzip copies are served to
# browsers that take them. Development and tests serve the source files as they are.
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Caches and Redis --------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"REDIS_URL must start with redis:// or rediss:// (got {REDIS_URL!r})."
    )
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            # Shared by the web server and the worker processes on one machine.
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    )
}
# The rate-limit governor shares its budget between every worker through this Redis;
# empty means a server-less store under VAR_DIR that works across processes on one machine.
RATE_LIMIT_REDIS_URL = env_str("RATE_LIMIT_REDIS_URL", REDIS_URL)

# --- Celery ------------------------------------------------------------------------------
# Embedded default: the filesystem transport needs no server. It loses a task that a
# killed worker was running (see README); the periodic reconcile makes up for it.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if not CELERY_BROKER_URL.startswith(("filesystem://", "redis://", "rediss://", "memory://")):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL must be filesystem:// (embedded) or a redis:// URL "
        f"(got {CELERY_BROKER_URL!r})."
    )
_broker_dir = VAR_DIR / "broker"
# Longer than any retry countdown we schedule (capped in the tasks), so Redis never
# re-delivers a task that is merely waiting for its ETA.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 7200, minimum=60)
CELERY_MAX_COUNTDOWN = CELERY_VISIBILITY_TIMEOUT // 2
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    # Kombu's transport with messages written whole before a worker can see them (a worker
    # reading a half-written one stops for good: hubcourse/broker.py).
    CELERY_BROKER_TRANSPORT = "hubcourse.broker:Transport"
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Django's LOGGING stays in charge in the worker, so task lines carry their context
# (hubcourse/tasklog.py).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Students of one course with an onboarding chain queued or running at once (0: no limit);
# courses applied together take turns on the shared budget (onboarding/engine.py).
HUBCOURSE_CHAINS_PER_COURSE = env_int("HUBCOURSE_CHAINS_PER_COURSE", 50, minimum=0)
# A build in flight is read every BUILD_POLL_INTERVAL seconds while young (less often as it
# ages). The sweep that claims due reads ticks every BUILD_POLL_TICK seconds, and a read waits
# up to one tick on top of the interval: the tick is short because a sweep with nothing due
# is one indexed query.
BUILD_POLL_INTERVAL = env_int("BUILD_POLL_INTERVAL", 10, minimum=2)
BUILD_POLL_TICK = env_int("BUILD_POLL_TICK", 2, minimum=1)
# After a push to the build branch, the student's builds are read this often (seconds) until
# the pushed commit's build has finished: a failed automated build sends no webhook.
BUILD_EXPECT_POLL_INTERVAL = env_int("BUILD_EXPECT_POLL_INTERVAL", 5, minimum=1)
# Students without the GitHub App: their public repository's branch head is read with a
# conditional request (a 304 is free for an authorised caller). The interval is the number of
# watched repositories spread over this many requests an hour, kept between the two bounds
# (seconds); the default stays far below GitHub's secondary limit (900 points a minute).
GITHUB_WATCH_REQUESTS_PER_HOUR = env_int("GITHUB_WATCH_REQUESTS_PER_HOUR", 12000, minimum=60)
GITHUB_WATCH_MIN_INTERVAL = env_int("GITHUB_WATCH_MIN_INTERVAL", 30, minimum=1)
GITHUB_WATCH_MAX_INTERVAL = env_int("GITHUB_WATCH_MAX_INTERVAL", 1800, minimum=1)
# A student, or staff for a student, may ask for a rebuild this often (seconds).
BUILD_REBUILD_MIN_INTERVAL = env_int("BUILD_REBUILD_MIN_INTERVAL", 120, minimum=0)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "heartbeat": {"task": "hubcourse.tasks.heartbeat", "schedule": timedelta(seconds=15)},
    # Re-read only builds in flight and recently pushed repositories (their next_poll_at).
    "poll-builds": {"task": "builds.poll_builds", "schedule": timedelta(seconds=BUILD_POLL_TICK)},
    "flag-stuck-builds": {"task": "builds.flag_stuck_builds", "schedule": timedelta(minutes=5)},
    # Students without the GitHub App: claim the branch heads due a conditional read.
    "watch-branch-heads": {
        "task": "builds.watch_branch_heads",
        "schedule": timedelta(seconds=BUILD_POLL_TICK * 5),
    },
    # The full reconcile: finds unfinished onboarding from the database and re-enqueues it,
    # which is what makes a lost message or a killed worker harmless.
    "reconcile-active-courses": {
        "task": "onboarding.reconcile_active_courses",
        "schedule": timedelta(seconds=env_int("RECONCILE_INTERVAL", 300, minimum=30)),
    },
    # A worker that died on another host: what it held is found again (hubcourse/workers.py).
    "sweep-dead-workers": {
        "task": "hubcourse.sweep_dead_workers",
        "schedule": timedelta(seconds=20),
    },
    # While students are still to accept their invites, look at the organisation more often.
    "watch-pending-invites": {
        "task": "onboarding.watch_pending_invites",
        "schedule": timedelta(seconds=env_int("INVITE_WATCH_INTERVAL", 60, minimum=10)),
    },
    # Receipts of the GitHub App's webhooks, kept to drop replays, past the redelivery window.
    "prune-webhook-receipts": {
        "task": "hubcourse.prune_webhook_receipts",
        "schedule": timedelta(hours=6),
    },
    # Invites run out after 14 days; an hourly look is plenty.
    "resend-expired-invites": {
        "task": "onboarding.resend_expired_invites",
        "schedule": timedelta(hours=1),
    },
}
# A heartbeat older than this makes /healthz answer 503.
HEARTBEAT_MAX_AGE = timedelta(seconds=env_int("HEARTBEAT_MAX_AGE", 90, minimum=20))

# --- Docker Hub and GitHub ----------------------------------------------------------------
# In development everything points at the sandbox (python -m sandbox), which make run starts.
SANDBOX_URL = env_url("SANDBOX_URL", "http://127.0.0.1:8765")
_dev_default = "" if PRODUCTION else SANDBOX_URL
DOCKERHUB_API_URL = env_url("DOCKERHUB_API_URL", _dev_default or "https://hub.docker.com")
DOCKERHUB_WEB_URL = env_url("DOCKERHUB_WEB_URL", _dev_default or "https://hub.docker.com")
# As Docker Hub spells it (its namespace, lowercase): every page shows this one spelling.
DOCKERHUB_ORG = env_str("DOCKERHUB_ORG", "revelare").strip().lower()
# The identifier that logs in: the organisation's name for an organisation access token,
# a username for a personal access token.
DOCKERHUB_USERNAME = env_str("DOCKERHUB_USERNAME", DOCKERHUB_ORG)
DOCKERHUB_TOKEN = env_str("DOCKERHUB_TOKEN")
# The GitHub account linked to that Owner's Docker ID (Docker Hub: Account settings, Linked
# accounts): the Owner links automated builds only from repositories it administers. Docker
# Hub's API does not tell; empty takes it to be GITHUB_TOKEN's account. A course may set its own.
DOCKERHUB_OWNER_GITHUB_LOGIN = env_str("DOCKERHUB_OWNER_GITHUB_LOGIN")

# The paid seats of DOCKERHUB_ORG's plan (Docker Hub publishes no API for it), recorded when
# that organisation is registered on first use; 0: not recorded (accounts.organisations).
DOCKERHUB_SEATS = env_int("DOCKERHUB_SEATS", 0, minimum=0)
GITHUB_URL = env_url("GITHUB_URL", _dev_default or "https://github.com")
GITHUB_API_URL = env_url(
    "GITHUB_API_URL",
    "https://api.github.com" if GITHUB_URL == "https://github.com" else f"{GITHUB_URL}/api/v3",
)
GITHUB_TOKEN = env_str("GITHUB_TOKEN")
GITHUB_CLIENT_ID = env_str("GITHUB_CLIENT_ID", "" if PRODUCTION else "hubcourse-dev")
GITHUB_CLIENT_SECRET = env_str("GITHUB_CLIENT_SECRET", "" if PRODUCTION else "hubcourse-dev-secret")
GITHUB_WEBHOOK_SECRET = env_str("GITHUB_WEBHOOK_SECRET")
# A public student repository without the GitHub App is looked at this often (minutes).
GITHUB_PUBLIC_CHECK_MINUTES = env_int("GITHUB_PUBLIC_CHECK_MINUTES", 5, minimum=1)
# hubcourse's GitHub App (issue 14): set all of these, or register the app from the "GitHub
# App" admin page (the manifest flow stores its credentials encrypted in the database, and
# those win over these). The private key may come from GITHUB_APP_PRIVATE_KEY_FILE (a PEM).
# The sandbox seeds an app with this slug; tests point the rest at it.
GITHUB_APP_ID = env_int("GITHUB_APP_ID", 0, minimum=0)
GITHUB_APP_SLUG = env_str("GITHUB_APP_SLUG", "" if PRODUCTION else "hubcourse-sandbox")
GITHUB_APP_PRIVATE_KEY = env_str("GITHUB_APP_PRIVATE_KEY").replace("\\n", "\n")
GITHUB_APP_WEBHOOK_SECRET = env_str("GITHUB_APP_WEBHOOK_SECRET")
GITHUB_APP_CLIENT_ID = env_str("GITHUB_APP_CLIENT_ID")
GITHUB_APP_CLIENT_SECRET = env_str("GITHUB_APP_CLIENT_SECRET")
# Where the app's events arrive: hubcourse's own address unless a proxy says otherwise
# (Django's URL ends with a slash, which is added back).
GITHUB_APP_WEBHOOK_URL = (
    env_url("GITHUB_APP_WEBHOOK_URL", f"{SITE_URL.rstrip('/')}/webhooks/github/app") + "/"
)
# GitHub caps an event at 25 MB; a larger body is not from GitHub.
GITHUB_APP_WEBHOOK_MAX_BYTES = env_int(
    "GITHUB_APP_WEBHOOK_MAX_BYTES", 25 * 1024 * 1024, minimum=1024
)
HTTP_CONNECT_TIMEOUT = env_float("HTTP_CONNECT_TIMEOUT", 5.0, minimum=0.1)
HTTP_READ_TIMEOUT = env_float("HTTP_READ_TIMEOUT", 30.0, minimum=0.1)

# --- Secrets at rest -----------------------------------------------------------------------
# Comma-separated Fernet keys, newest first; older keys still decrypt until
# `manage.py rotate_secrets` has re-encrypted everything under the newest.
FERNET_KEYS = env_list("FERNET_KEYS", [])
if not FERNET_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "FERNET_KEYS is required in production: generate one with "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'."
        )
    # Development only: a key derived from SECRET_KEY, so a fresh checkout just works.
    FERNET_KEYS = [
        base64.urlsafe_b64encode(hashlib.sha256(f"fernet:{SECRET_KEY}".encode()).digest()).decode()
    ]

# --- Accounts (django-allauth) -----------------------------------------------------------
# The proxies in front of hubcourse: a number (how many append to X-Forwarded-For) or their
# addresses/networks, comma separated. Empty: X-Forwarded-For is ignored (hubcourse.clientip).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        if not (len(TRUSTED_PROXIES) == 1 and _proxy.isdigit()):
            ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is neither a number of proxies nor an address or "
            "network (e.g. 1, or 10.0.0.2, or 10.0.0.0/8,fd00::/8)."
        ) from None
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION", "optional", ("none", "optional", "mandatory")
)
ACCOUNT_LOGOUT_ON_GET = False
SOCIALACCOUNT_QUERY_EMAIL = True
# The student's token confirms which installations of the app they can reach; it carries no
# scope that opens their repositories (see the GitHub provider below).
SOCIALACCOUNT_STORE_TOKENS = True
SOCIALACCOUNT_ADAPTER = "accounts.social.SocialAccountAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
# Students sign in through the GitHub App's client (a user-to-server token: GitHub Apps ask
# no scopes, the app's permissions apply) when GITHUB_APP_CLIENT_ID is set, else through an
# OAuth app that may only read who they are. Never `repo`: it would give hubcourse write
# access to every repository the student has. hubcourse reads a student's repository through
# the app's installation token instead.
if GITHUB_APP_CLIENT_ID:
    _github_provider: dict[str, Any] = {
        "APP": {"client_id": GITHUB_APP_CLIENT_ID, "secret": GITHUB_APP_CLIENT_SECRET, "key": ""},
        "SCOPE": [],
    }
else:
    _github_provider = {
        "APP": {"client_id": GITHUB_CLIENT_ID, "secret": GITHUB_CLIENT_SECRET, "key": ""},
        "SCOPE": ["read:user", "user:email"],
    }
if GITHUB_URL != "https://github.com":
    # allauth derives the API as GITHUB_URL + /api/v3 (GitHub Enterprise layout).
    _github_provider["GITHUB_URL"] = GITHUB_URL
SOCIALACCOUNT_PROVIDERS = {"github": _github_provider}

# --- Email -----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "hubcourse <hubcourse@localhost>")

# --- REST framework -------------------------------------------------------------------------
# The API under /api/v1/ (the api app): personal tokens or the browser's session, the same
# permissions as the pages, one error shape, pagination/filtering/ordering on every list.
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so a request without credentials gets 401 with a Bearer challenge.
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON bodies; the few endpoints that take a file add multipart themselves.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    # Per API token, counted in the cache; "<n>/second|minute|hour|day".
    "DEFAULT_THROTTLE_RATES": {"api_token": env_str("API_TOKEN_RATE", "300/minute")},
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# --- Content-Security-Policy (django-csp) -------------------------------------------------
# Scripts and style sheets come from hubcourse itself only; nothing inline runs. Style
# attributes stay allowed (the class board's bar widths are data, not code).
CONTENT_SECURITY_POLICY: dict[str, Any] = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        # No form-action: signing in with GitHub posts here and is redirected to GitHub,
        # which form-action would block (Chromium applies it to redirects).
        "frame-ancestors": ["'none'"],
    }
}

# The API's schema and docs: open in development, for signed-in users in production.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", default=not PRODUCTION)

SPECTACULAR_SETTINGS: dict[str, Any] = {
    "TITLE": "hubcourse API",
    "DESCRIPTION": "Run a Docker course on Docker Hub from scripts: the same actions and "
    "permissions as the pages.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Write-only fields (credentials) appear in requests only.
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Row ids in paths: the api app's "id" converter (at most 18 digits).
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999999999999999999}
    },
    # One named enum per set of states, however many fields use it.
    "ENUM_NAME_OVERRIDES": {
        "OnboardingState": "accounts.models.OnboardingState",
        "InviteState": "accounts.models.InviteState",
        "PreflightState": "accounts.models.PreflightState",
        "BuildState": "builds.models.BuildState",
        "JobStatus": "hubcourse.models.JobStatus",
        "InviteOutcome": "accounts.models.Outcome",
        "RosterImportStatus": "onboarding.models.RosterImport.Status",
        "RosterRowStatus": "accounts.roster_parsing.Status",
        "CourseRole": "accounts.models.CourseRole.Role",
        "OrganisationRole": "accounts.models.BulkInvite.Role",
    },
}

# --- Security ---------------------------------------------------------------------------------
# Sessions read from the cache, written through to the database: one query fewer a page.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # our small JS reads it for POSTs
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Uploaded files (roster and invite CSVs) stop being read past this size; the forms refuse
# smaller ones in their own words (see hubcourse/uploads.py).
FILE_UPLOAD_MAX_BYTES = env_int("FILE_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1024 * 1024)
FILE_UPLOAD_HANDLERS = [
    "hubcourse.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Behind a TLS-terminating proxy (see docker-compose.yml).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # /healthz is probed over plain HTTP from inside the compose network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Error reports (optional) ------------------------------------------------------------------
# Set SENTRY_DSN to send errors of web requests and tasks to Sentry (the image has sentry-sdk;
# elsewhere install the `sentry` extra). No personal data and no local variables are sent:
# a frame's variables may hold a token.
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    try:
        import sentry_sdk
    except ImportError as exc:
        raise ImproperlyConfigured(
            "SENTRY_DSN is set but sentry-sdk is not installed: pip install 'hubcourse[sentry]'."
        ) from exc
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=HUBCOURSE_ENV,
        release=f"hubcourse@{__version__}",
        send_default_pii=False,
        include_local_variables=False,
        traces_sample_rate=0.0,
    )

LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # task_context: "[task=… course=… student=…] " in a task, empty elsewhere.
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(task_context)s%(message)s"}
    },
    "filters": {
        "task_context": {"()": "hubcourse.tasklog.TaskContextFilter"},
        # Webhook URL tokens are secrets: the filter masks them in every line (hubcourse.redact).
        "redact_hook_tokens": {"()": "hubcourse.redact.RedactHookTokens"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["task_context", "redact_hook_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # urllib3 logs whole URLs at DEBUG, signed query strings included (GitHub's job log
        # addresses); hubcourse.http logs each call's path instead.
        "urllib3": {"level": "INFO"},
        # Django's own request logging goes through the console handler (and its filter).
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
