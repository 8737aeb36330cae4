"""The embedded mock RunComfy Model API: a real local HTTP server for offline runs and tests.

    with MockServer() as server:          # 127.0.0.1, a free port
        client = Client(base_url=server.base_url, token=server.token)

It serves the four endpoints for every model of the generated package, validates submitted bodies
with the generated ``Input`` (422 with field errors), checks the bearer token, runs jobs on a
deterministic clock (``in_queue`` with positions -> ``in_progress`` -> ``completed``), answers
results whose ``output`` satisfies the model's ``Output`` and points at media it serves itself (a
real PNG and MP4 made on the fly), and can inject faults (see :mod:`.faults`).

Built on the standard library's ``ThreadingHTTPServer``: fault injection needs socket-level control
(dropping a connection without a reply), which ASGI servers do not expose.
"""

from runcomfy_codegen.mock.faults import FAULT_KINDS, Fault
from runcomfy_codegen.mock.server import MockServer

__all__ = ["FAULT_KINDS", "Fault", "MockServer"]
