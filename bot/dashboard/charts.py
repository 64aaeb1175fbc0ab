"""pygal for the dashboard's charts (the course's soreness chart, the alert burden), imported here
once so its import hook is taken out before anything else runs.

pygal 3.1.3 appends to sys.meta_path a finder for map plugins (pygal.maps.*) that has only the
find_module API Python 3.4 replaced: Python then warns (ImportWarning) on every failed import that
reaches it, an error under the tests' filterwarnings and noise in production. We draw no maps.
"""

import sys

import pygal
from pygal.style import Style

sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != "pygal"]

__all__ = ["Style", "pygal"]
