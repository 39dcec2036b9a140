"""Provider simulator: OpenAI, Anthropic, Bedrock, Gemini (AI Studio and Vertex AI) and
Azure OpenAI wire formats with fault injection, plus Google's and Entra ID's token
endpoints (``POST /token``, ``POST /{tenant}/oauth2/v2.0/token``) and, under
``/_vendor/{row}``, OpenAI-compatible vendors' documented quirks.

Used by ``make dev`` (an offline upstream) and by the tests (a fault-injecting fake).
Run it with ``python -m gateway.local.simulator --host 127.0.0.1 --port 4010``.

Faults (see ``scenario.FAULTS``) are chosen, first match wins, by the URL prefix
``/_fault/{spec}`` in front of any vendor route (a deployment's ``api_base``, as in
``http://127.0.0.1:4010/_fault/429,retry_after=2,times=1/v1``; grammar in ``fault_spec``),
per request by header ``x-sim-fault`` or a ``[sim-fault:NAME]`` marker in the last user
message, or server-wide with ``app.set_fault(name, times=None)`` /
``POST /_sim/fault {"fault": NAME, "times": N}``. Fault ``reset`` drops the TCP connection
(an RST) without any response; see ``connection``.
``GET /_sim/requests`` lists what was received; ``POST /_sim/reset`` forgets everything.
"""

from __future__ import annotations

from gateway.local.simulator.app import SimulatorApp, create_app, main
from gateway.local.simulator.scenario import FAULTS
from gateway.local.simulator.state import SimState

__all__ = ["FAULTS", "SimState", "SimulatorApp", "create_app", "main"]
