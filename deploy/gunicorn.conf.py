"""Gunicorn's settings for Green Ladder's web workers (生产部署).

    gunicorn -c deploy/gunicorn.conf.py

(`deploy/systemd/green-ladder-web.service` runs exactly that.) Everything an
installation changes comes from the environment, so this file stays as it is in git:

    GUNICORN_BIND     where to listen, default 127.0.0.1:8000 (nginx in front), or unix:/run/...sock
    WEB_CONCURRENCY   number of worker processes, default 2 × CPUs + 1 (at most 8)
    GUNICORN_TIMEOUT  seconds a request may take before its worker is replaced, default 60

The app reads its own settings (DATABASE_URL, SECRET_KEY, PROXY_FIX, ...) from the
same environment; see README.md, "Production".
"""
import gc
import multiprocessing
import os

wsgi_app = "web:create_app()"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000").split(",")

# Sync workers: a step holds one database transaction from start to end, and nginx buffers
# slow clients, so a worker is busy only while the app works. Each worker builds its own
# app (no preload): database connections are never shared across fork.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))

# Deploying every procedure from the modeler or exporting a large register takes seconds,
# not minutes; a worker silent for longer than this is stuck and is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30  # a restart lets a step under way finish and commit
keepalive = 5  # nginx keeps upstream connections open (deploy/nginx.conf: keepalive)

# Each worker caches parsed model versions and recent cases; recycling bounds its memory.
max_requests = 2000
max_requests_jitter = 200

# Worker heartbeats in memory, not on a disk that may stall (or be read-only under systemd).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# The app alone decides what to believe of X-Forwarded-* (ProxyFix, switched on by PROXY_FIX):
# one place to configure, and the same behaviour under `flask run`.
secure_scheme_headers = {}
forwarder_headers = ""

# systemd restarts and reloads the service; a control socket in $HOME is not needed.
control_socket_disable = True

# Both logs to the journal. Each access line carries the request id the app put on the
# response (nginx's $request_id when it sent one), as do the app's own log lines.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %({x-request-id}o)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
proc_name = "green-ladder-web"


def post_worker_init(worker):
    """The worker's app is built: what it holds now (the app, its models, SQLAlchemy's tables)
    lives as long as the worker, so the collector's full passes need not walk it. Without this,
    a full pass over those ~150,000 objects paused whichever step it fell in by 75 ms."""
    gc.freeze()
