# Production image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HUBCOURSE_ENV=production VAR_DIR=/var/lib/hubcourse
WORKDIR /app
RUN useradd --system --create-home --home-dir /home/hubcourse hubcourse \
 && mkdir -p /var/lib/hubcourse && chown hubcourse /var/lib/hubcourse
COPY pyproject.toml README.md ./
COPY hubcourse hubcourse
COPY accounts accounts
COPY repositories repositories
COPY builds builds
COPY sandbox sandbox
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install . \
 && SECRET_KEY=build-only-not-a-secret-build-only-not-a-secret-build-only \
    FERNET_KEYS=MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI= \
    ALLOWED_HOSTS=build DATABASE_URL=postgres://build@build/build \
    CELERY_BROKER_URL=redis://build:6379/0 \
    python manage.py collectstatic --noinput
USER hubcourse
EXPOSE 8000
CMD ["gunicorn", "hubcourse.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
