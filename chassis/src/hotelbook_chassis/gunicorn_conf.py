"""Gunicorn settings shared by every service: ``gunicorn -c python:hotelbook_chassis.gunicorn_conf``."""

import os
from typing import Any

from gunicorn.glogging import Logger

# Files the service writes (SQLite databases with password hashes, secrets, keys,
# metrics) are for its own user only; set in the master, inherited by the workers.
os.umask(0o077)


class NoAccessLogger(Logger):
    """The app writes the one access line (with the request id); gunicorn would still build its
    access record for every request because a logging config is set, then drop it."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        return None


logger_class = NoAccessLogger

# No gunicornc control socket: its default path ($HOME/.gunicorn/gunicorn.ctl) is one file for
# every gunicorn of the user, so each service (and each instance) would take it over from the
# last, and a container's read-only home could not hold it. Nothing here uses it.
control_socket_disable = True

bind = os.environ.get("BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("THREADS", "4"))
timeout = int(os.environ.get("WORKER_TIMEOUT", "60"))
graceful_timeout = 10
# Longer than any client keeps an idle connection to us (the gateway's upstream pool: 60 s;
# the services' own clients): when the server closes an idle kept-alive connection first,
# a request already on its way over it is lost, and nginx does not retry a POST (a hold or
# a payment answered 502 under load).
keepalive = int(os.environ.get("KEEPALIVE_SECONDS", "75"))
# The app writes its own JSON access line with the request id.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    # No handler on the root logger: the app's own (``configure_logging``) is the only one, so each
    # record, the access line included, is written once.
    "root": {"level": "INFO", "handlers": []},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
