"""W6 from Python on tether: `tether.datadivr.WebSocketClient` (the drop-in for the datadivr
SDK, tether's Python package) against the hub's `datadivr` endpoint, driven by
bench_datadivr_sdk.py's own code (only the client class differs): `send_message(payload, event_name)` per message,
`receive_messages()` dispatching each reply to the client handler registered for its event.

Workload (echo-like round trips through the platform): `sum_event` with payload
`{"numbers": [seq, 0]}`; the server answers the sender with `sum_handler_result` whose
payload is `float(seq)`, which matches replies to requests in order. At most `--window`
requests are outstanding per client. Same contract and JSON output as the other programs
(`--binary`, `--send-only` and `--size` do not apply: a datadivr message is what the SDK
makes of the payload, ~90 bytes).

Logging: tether logs through `logging` (nothing per message).
"""

from tether.datadivr import WebSocketClient

import bench_datadivr_sdk

if __name__ == "__main__":
    bench_datadivr_sdk.main("python-tether-datadivr", WebSocketClient)
