"""gunicorn settings for production; `gunicorn wsgi:app` reads this file from the project root.

Two workers, each with four threads: a reply spends part of its time waiting on the database, and
threads let a worker read the next request meanwhile. More threads than that only queue for the
interpreter's lock: under load on two cores, 8 threads gave a worse tail than 4 (bench/README.md).
Environment variables override.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 30  # a worker stuck this long is restarted; Twilio itself gives up after 15 s
graceful_timeout = 20
accesslog = None  # request lines carry no patient data, but the app's own logs say what matters
errorlog = "-"

