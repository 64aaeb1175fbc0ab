"""gunicorn settings for production; `gunicorn wsgi:app` reads this file from the project root.

Two workers, each with four threads: a reply spends part of its time waiting on the database, and
threads let a worker read the next request meanwhile. More threads than that only queue for the
interpreter's lock: under load on two cores, 8 threads gave a worse tail than 4 (bench/README.md).
Environment variables override.

Time limits: a request's database waits are bounded inside the app (REQUEST_TIMEOUT, 8 s by
default, bot/database.py), which is what keeps every answer inside Twilio's 15 seconds. gunicorn's
`timeout` is the backstop for a worker that stops responding altogether: with threads, the worker's
main loop must check in this often or the worker is killed and restarted.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "20"))  # a worker silent this long is killed and restarted
graceful_timeout = 20  # on restart or SIGTERM, requests in hand get this long to finish
keepalive = 5  # seconds an idle client connection (a proxy's) is kept open
accesslog = None  # request lines carry no patient data, but the app's own logs say what matters
errorlog = "-"
