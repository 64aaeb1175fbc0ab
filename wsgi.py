"""The WSGI entry point for production: `gunicorn wsgi:app`.

Run the dispatcher as its own process (`flask scheduler`, SCHEDULER=off here). SCHEDULER=in-process
starts it inside this process instead, which suits a single-worker deployment only.
"""

from bot import create_app
from bot.dispatch import start_in_process
from bot.triage import learned

app = create_app()
learned.reader()  # load the triage's second reader (about 3 s of CPU) before the first reply, not during it

if app.config["SCHEDULER"] == "in-process":
    start_in_process(app)
