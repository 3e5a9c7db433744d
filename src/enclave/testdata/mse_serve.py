"""Test stand-in for the base image's `mse-serve` launcher (same command line, same behaviour).

mse-serve --application MOD:VAR --app-dir DIR --host H --port P [--certfile F --keyfile F]

Imports the app from DIR, tells WSGI from ASGI itself (uvicorn's auto-detection takes Flask for ASGI2)
and serves it with Debian's uvicorn, over TLS when a certificate and key are given.
"""
import argparse
import importlib
import inspect
import sys

import uvicorn


def is_asgi(app):
    if inspect.iscoroutinefunction(app):
        return True
    call = getattr(app, "__call__", None)
    return inspect.iscoroutinefunction(call)


def main():
    parser = argparse.ArgumentParser(prog="mse-serve")
    parser.add_argument("--application", required=True)
    parser.add_argument("--app-dir", required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--certfile")
    parser.add_argument("--keyfile")
    args = parser.parse_args()
    module_name, _, var = args.application.partition(":")
    sys.path.insert(0, args.app_dir)
    app = getattr(importlib.import_module(module_name), var)
    options = dict(host=args.host, port=args.port, interface="asgi3" if is_asgi(app) else "wsgi", log_level="info")
    if args.certfile:
        options.update(ssl_certfile=args.certfile, ssl_keyfile=args.keyfile)
    uvicorn.run(app, **options)


if __name__ == "__main__":
    main()
