"""``python -m hotelbook_stack <command>``: the steps behind ``make up`` and ``make client``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time

from hotelbook_stack import bootstrap as steps
from hotelbook_stack.layout import Layout
from hotelbook_stack.readiness import ensure_demo_guest, wait_ready
from hotelbook_stack.services import BY_NAME, ROOT


def cmd_bootstrap(layout: Layout, args: argparse.Namespace) -> None:
    if layout.balanced("search") and not layout.postgres_url:
        sys.exit(f"REPLICAS={layout.replicas} needs POSTGRES_URL (a PostgreSQL server, such as "
                 "postgresql://postgres@127.0.0.1:5432): the instances of a service share its database, "
                 "one database per service, as they would on several machines.")
    started = time.monotonic()
    steps.bootstrap(layout, hotels=args.hotels)
    print(f"bootstrap done in {time.monotonic() - started:.1f}s (var: {layout.var_dir.name}/)")


def cmd_run(layout: Layout, args: argparse.Namespace) -> None:
    """Replace this process with the service's gunicorn (honcho then signals it directly).

    ``search`` runs the service; ``search.2`` its second instance (``REPLICAS`` of 2 or more).
    """
    processes = dict(layout.processes)
    if args.service not in processes:
        sys.exit(f"run: no process {args.service!r} with REPLICAS={layout.replicas} "
                 f"(one of: {', '.join(processes)})")
    service = processes[args.service]
    metrics = layout.metrics_dir(args.service)
    shutil.rmtree(metrics, ignore_errors=True)  # stale files would double-count
    metrics.mkdir(parents=True)
    os.chdir(ROOT)
    command = layout.gunicorn_command(service)
    env = layout.env(service, args.service)
    env.setdefault("JSON_LOGS", "0")  # a terminal is read by people: one short line per request
    os.execve(command[0], command, env)


# The Procfile's short names of the services (the process names honcho prints).
PROCFILE_NAMES = {"pdf-reporting": "pdf", "booking-ui": "ui"}


def procfile(layout: Layout) -> str:
    """The processes ``make up`` starts: the ``Procfile`` for one instance each, and with
    ``REPLICAS=N`` one line per instance (``search.1``, ``search.2``...)."""
    lines = ["# Started by `make up` with honcho; `python -m hotelbook_stack` knows each process's environment.",
             "smtp: python -m hotelbook_chassis.smtp_sink --folder var/mail",
             "traces: python -m hotelbook_stack traces"]
    for name, service in layout.processes:
        short = PROCFILE_NAMES.get(service.name, service.name)
        label = short if name == service.name else f"{short}{name.rsplit('.', 1)[1]}"
        lines.append(f"{label}: python -m hotelbook_stack run {name}")
    lines += ["gateway: python -m hotelbook_stack gateway", "ready: python -m hotelbook_stack announce"]
    return "\n".join(lines) + "\n"


def cmd_procfile(layout: Layout, args: argparse.Namespace) -> None:
    sys.stdout.write(procfile(layout))


def cmd_gateway(layout: Layout, args: argparse.Namespace) -> None:
    prefix = steps.render_gateway(layout)
    if prefix is None:
        print(steps.GATEWAY_INSTALL_HINT, flush=True)
        threading.Event().wait()  # stay up: honcho would stop everything if we exited
    command = ["nginx", "-p", str(prefix), "-c", "nginx.conf", "-g", "daemon off;"]
    os.execvp(command[0], command)


def cmd_announce(layout: Layout, args: argparse.Namespace) -> None:
    ready = wait_ready(layout, timeout=args.timeout)
    late = [name for name, ok in ready.items() if not ok]
    if late:
        print(f"not ready after {args.timeout}s: {', '.join(late)}", flush=True)
    else:
        try:
            steps.publish_public_openapi(layout)
            steps.reload_gateway(layout)
        except steps.StepFailed as error:  # the system still works without the document
            print(error, flush=True)
        guest = ensure_demo_guest(layout)
        entry = layout.gateway_url if steps.gateway_available() else layout.url("booking-ui")
        print("\n" + "=" * 64, flush=True)
        print(f"  hotelbook is up: open {entry}/", flush=True)
        print(f"  demo guest: {guest['email']} / {guest['password']}", flush=True)
        print(f"  mail sink: var/mail/ (SMTP 127.0.0.1:{layout.ports['smtp']})", flush=True)
        print("  Ctrl-C stops everything.", flush=True)
        print("=" * 64 + "\n", flush=True)
    threading.Event().wait()


def cmd_traces(layout: Layout, args: argparse.Namespace) -> None:
    from hotelbook_chassis.trace_store import TraceStore, make_server

    server = make_server("127.0.0.1", layout.ports["traces"], TraceStore(layout.traces_dir))
    print(f"trace store: OTLP/HTTP on 127.0.0.1:{layout.ports['traces']}, spans in "
          f"{layout.var_dir.name}/traces/", flush=True)
    server.serve_forever()


def cmd_trace(layout: Layout, args: argparse.Namespace) -> None:
    from hotelbook_chassis.trace_store import TraceStore, tree_lines

    store = TraceStore(layout.traces_dir)
    trace_id = store.trace_of_request(args.id) or (args.id if len(args.id) == 32 else None)
    spans = store.trace(trace_id) if trace_id else []
    if not spans:
        sys.exit(f"no trace found for {args.id!r} in {layout.traces_dir}")
    print(f"trace {trace_id}: {len(spans)} spans")
    for line in tree_lines(spans):
        print(line)


def cmd_seed(layout: Layout, args: argparse.Namespace) -> None:
    # `make seed` may come before the first `make up`: the catalogue's tables first.
    layout.var_dir.mkdir(parents=True, exist_ok=True)
    steps.create_databases(layout)
    search = BY_NAME["search"]
    steps.run(layout, search, search.package, "db", "upgrade")
    steps.seed_catalogue(layout, args.hotels)


def cmd_client(layout: Layout, args: argparse.Namespace) -> None:
    credentials = steps.register_client(
        layout, args.name, args.grants, args.scopes,
        redirect_uris=tuple(args.redirect_uri or ()), public=args.public, display_name=args.display_name,
        signup_uri=args.signup_uri, password_reset_uri=args.password_reset_uri,
    )
    print(json.dumps(credentials))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hotelbook_stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    boot = sub.add_parser("bootstrap", help="databases, migrations, keys, clients, catalogue, gateway config")
    boot.add_argument("--hotels", type=int, default=int(os.environ.get("HOTELS", "3000")))
    run = sub.add_parser("run", help="run one service (or one instance: search.2) under gunicorn")
    run.add_argument("service", metavar="SERVICE[.N]")
    sub.add_parser("procfile", help="print the processes of make up (one line per instance with REPLICAS=N)")
    sub.add_parser("gateway", help="run nginx (or explain how to install it)")
    announce = sub.add_parser("announce", help="wait for every /readyz, then print the URL")
    announce.add_argument("--timeout", type=float, default=90)
    sub.add_parser("traces", help="run the local trace store (OTLP/HTTP receiver, spans in var/traces/)")
    trace = sub.add_parser("trace", help="print the trace of a request as a tree")
    trace.add_argument("id", help="the request's X-Request-ID (or a trace id)")
    seed = sub.add_parser("seed", help="seed the catalogue (deterministic, idempotent)")
    seed.add_argument("--hotels", type=int, default=int(os.environ.get("HOTELS", "3000")))
    client = sub.add_parser("client", help="register an OAuth client, print its credentials")
    client.add_argument("--name", required=True)
    client.add_argument("--scopes", default="")
    client.add_argument("--grants", default="client_credentials")
    client.add_argument("--redirect-uri", action="append")
    client.add_argument("--public", action="store_true")
    client.add_argument("--display-name", help='the name guests see on the login page, e.g. "Hotelbook"')
    client.add_argument("--signup-uri", help="the client's sign-up page, linked from the login page")
    client.add_argument("--password-reset-uri", help="the client's forgotten-password page, linked from it")
    args = parser.parse_args(argv)
    # Everything the system writes under var/ (databases with password hashes,
    # secrets, keys, mail, logs) is for the owner only; the services inherit it.
    os.umask(0o077)
    layout = Layout.from_env()
    handler = globals()[f"cmd_{args.command}"]
    try:
        handler(layout, args)
    except steps.StepFailed as error:
        sys.exit(str(error))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
