"""The HappyPanda X SDK's example (its README, "Get up and running fast"), on tether's
engine: only the import line differs from the SDK's.

Run against ``tether serve`` (the hub's ``hpx`` endpoint is tcp://127.0.0.1:7007):

    python python/examples/happypandax_basic.py
"""

from pprint import pprint

import tether.happypandax as hpxclient

c = hpxclient.Client("my-client")
c.connect(host="localhost", port=7007)

c.handshake(user=None, password=None)
d = c.send([{"fname": "get_version"}])
pprint(d)
