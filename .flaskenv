# Read by the `flask` command (python-dotenv): which app its commands act on.
FLASK_APP=bot:create_app
