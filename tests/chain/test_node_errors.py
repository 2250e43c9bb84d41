"""A node that answers a read with a JSON-RPC error (an EthereumJS signer answered `eth_call`
with "State trie does not contain state root" while catching up) is a node that cannot serve
now: ChainUnavailable (503 at the gateway), not an unexpected error (a 500)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.errors import ChainUnavailable
from tests.world import World

REFUSED = {"code": -32000, "message": "State trie does not contain state root"}


@pytest.fixture
def lagging_node(world: World) -> Iterator[str]:
    """A JSON-RPC endpoint in front of the world's anvil that answers every read with the
    error a lagging node gives, and passes everything else through."""
    upstream = world.consortium.rpc_url

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = json.loads(body)
            if request.get("method") in ("eth_call", "eth_blockNumber"):
                answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": REFUSED})
            else:
                headers = {"Content-Type": "application/json"}
                answer = requests.post(upstream, data=body, headers=headers, timeout=10).text
            payload = answer.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_read_the_node_answers_with_an_error_is_chain_unavailable(
    world: World, lagging_node: str
) -> None:
    deployment = world.gateways["hospital-a"].gateway.chain.deployment
    chain = Chain(Web3(Web3.HTTPProvider(lagging_node)), deployment)
    membership = chain.contract("Membership")
    org = world.org_address("hospital-a")
    with pytest.raises(ChainUnavailable, match="State trie"):
        chain.call(membership.functions.isActiveOrganisation(org))
    with pytest.raises(ChainUnavailable, match="State trie"):
        chain.head()
