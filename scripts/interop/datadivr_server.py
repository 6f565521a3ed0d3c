#!/usr/bin/env python3
"""Runs the REAL datadivr 0.3 server (its FastAPI `app`) under uvicorn, for interop tests.

Usage: VENV/bin/python scripts/interop/datadivr_server.py --port PORT [--host 127.0.0.1]

This is what `uvicorn datadivr.transport.server:app` does (SPEC section 6), without the
static-file mount that `datadivr start-server` insists on. The server's own structlog
logging is switched to DEBUG with one JSON object per line on stdout, unbuffered, so a
test can count the `message_received` lines it logged even when the process is killed
with SIGKILL. Nothing of the server's behaviour is changed.
"""
import argparse
import sys

import uvicorn

import datadivr.handlers  # noqa: F401  (registers sum_event / get_node_info, as the CLI does)
from datadivr.transport.server import app
from datadivr.utils.logging import setup_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    setup_logging(level="DEBUG", pretty=False)
    sys.stdout.reconfigure(line_buffering=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    config.log_config = None  # as `datadivr start-server` does: keep the root logging above
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
