// libp2p 3 calls Promise.withResolvers (Node 22+); Node 20 lacks it. Loaded with `node --import`
// before scripts/ipfs_node.mjs, whose static imports would otherwise run first.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject
  const promise = new this((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
