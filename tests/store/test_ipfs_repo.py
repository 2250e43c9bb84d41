"""The node's repository in LevelDB (scripts/ipfs_repo.mjs), and a repository the file stores
wrote before it carried over on the first start: its blocks, its pins, its other keys."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from ledger.store.ipfs_node import IpfsNode
from tests.store.conftest import FETCH_TIMEOUT_S, _node_port

REPO = Path(__file__).resolve().parents[2]

#: Writes a repository as the node did with blockstore-fs and datastore-fs: one pinned raw block,
#: and a datastore key of its own; prints the block's CID.
_OLD_REPO = """
import { createHeliaLight } from 'helia'
import { FsBlockstore } from 'blockstore-fs'
import { FsDatastore } from 'datastore-fs'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
const dir = process.argv[1]
const helia = createHeliaLight({
  blockstore: new FsBlockstore(`${dir}/blocks`), datastore: new FsDatastore(`${dir}/datastore`),
})
await helia.start()
const bytes = new TextEncoder().encode('written before LevelDB')
const cid = CID.createV1(raw.code, await sha256.digest(bytes))
await helia.blockstore.put(cid, bytes)
for await (const _ of helia.pins.add(cid)) ;
await helia.datastore.put(new Key('/medledger/test'), new TextEncoder().encode('kept'))
await helia.stop()
console.log(cid.toString())
"""


def _rpc(node: IpfsNode, command: str, **params: str) -> httpx.Response:
    reply = httpx.post(f"{node.url}/api/v0/{command}", params=params, timeout=30.0)
    reply.raise_for_status()
    return reply


def _node(repo: Path, swarm_key: Path) -> IpfsNode:
    return IpfsNode(
        repo_dir=repo,
        swarm_key=swarm_key,
        api_port=_node_port(),
        swarm_port=_node_port(),
        fetch_timeout_s=FETCH_TIMEOUT_S,
    )


def test_a_repository_the_file_stores_wrote_is_carried_over_once(
    tmp_path: Path, swarm_key: Path
) -> None:
    repo = tmp_path / "ipfs"
    repo.mkdir()
    written = subprocess.run(
        [
            "node",
            "--import",
            "./scripts/promise_with_resolvers.mjs",
            "--input-type=module",
            "-e",
            _OLD_REPO,
            str(repo),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    cid = written.stdout.strip().splitlines()[-1]
    node = _node(repo, swarm_key).start()
    try:
        assert _rpc(node, "cat", arg=cid).content == b"written before LevelDB"
        assert cid in _rpc(node, "pin/ls", arg=cid).json()["Keys"]
        peer = node.peer_id
    finally:
        node.request_stop()
        node.wait_stopped()
    assert sorted(p.name for p in repo.iterdir() if p.is_dir()) == [
        "blocks.fs",
        "blocks.level",
        "datastore.fs",
        "datastore.level",
    ]
    # Started again: nothing is carried over twice, and the node is the same peer.
    again = _node(repo, swarm_key).start()
    try:
        assert again.peer_id == peer
        assert _rpc(again, "cat", arg=cid).content == b"written before LevelDB"
    finally:
        again.request_stop()
        again.wait_stopped()


#: Writes to the repository's datastore without waiting between them, reading as it goes, then
#: again after a restart; prints what it read, as JSON.
_GROUP_COMMIT = """
import { Key } from 'interface-datastore'
import { openRepo } from './scripts/ipfs_repo.mjs'
const dir = process.argv[1]
const text = (bytes) => new TextDecoder().decode(bytes)
const utf8 = (s) => new TextEncoder().encode(s)
const read = async (datastore) => {
  const found = {}
  for await (const { key, value } of datastore.query({ prefix: '/t/' })) {
    found[key.toString()] = text(value)
  }
  return found
}
let { blockstore, datastore } = await openRepo(dir)
const writes = [
  datastore.put(new Key('/t/kept'), utf8('first')),
  datastore.put(new Key('/t/kept'), utf8('second')),
  datastore.put(new Key('/t/dropped'), utf8('soon gone')),
  datastore.delete(new Key('/t/dropped')),
]
const pending = {
  kept: text(await datastore.get(new Key('/t/kept'))),
  dropped: await datastore.has(new Key('/t/dropped')),
  query: await read(datastore),
}
await Promise.all(writes)
const later = datastore.put(new Key('/t/late'), utf8('after the first batch'))
await datastore.close(); await blockstore.close()
await later
;({ blockstore, datastore } = await openRepo(dir))
console.log(JSON.stringify({ pending, reopened: await read(datastore) }))
"""


def test_datastore_writes_in_one_turn_read_back_in_order_and_last_a_restart(
    tmp_path: Path,
) -> None:
    ran = subprocess.run(
        [
            "node",
            "--import",
            "./scripts/promise_with_resolvers.mjs",
            "--input-type=module",
            "-e",
            _GROUP_COMMIT,
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    seen = json.loads(ran.stdout.strip().splitlines()[-1])
    assert seen["pending"] == {"kept": "second", "dropped": False, "query": {"/t/kept": "second"}}
    assert seen["reopened"] == {"/t/kept": "second", "/t/late": "after the first batch"}
