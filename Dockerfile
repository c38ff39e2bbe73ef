# Production image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
# It copies the whole project; .dockerignore leaves out everything that is not the
# application (tests, bench, the sandbox, local state). `make rehearse` assembles the same
# files from these COPY lines and .dockerignore, and runs them as this image would.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONPATH=/app \
    HUBCOURSE_ENV=production VAR_DIR=/var/lib/hubcourse STATIC_ROOT=/app/staticfiles
WORKDIR /app
RUN useradd --system --create-home --home-dir /home/hubcourse hubcourse \
 && mkdir -p /var/lib/hubcourse && chown hubcourse /var/lib/hubcourse
# Dependencies first, so their layer is reused while only the code changes: every package
# pinned with its hashes (requirements/runtime.txt, made by `make lock`).
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --require-hashes -r requirements/runtime.txt
COPY . .
# Hashed, compressed static files for whitenoise. The settings refuse to load without the
# production secrets, so placeholders stand in: nothing here connects anywhere.
RUN SECRET_KEY=build-only-not-a-secret-build-only-not-a-secret-build-only \
    FERNET_KEYS=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI= \
    ALLOWED_HOSTS=build DATABASE_URL=postgres://build@build/build \
    CELERY_BROKER_URL=redis://build:6379/0 \
    python manage.py collectstatic --noinput
USER hubcourse
EXPOSE 8000
# For the web container; docker-compose.yml gives the worker its own and beat none (its
# heartbeat shows in web's /healthz).
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["python", "-m", "hubcourse.healthcheck"]
CMD ["gunicorn", "hubcourse.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
