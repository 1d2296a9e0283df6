// A lying peer for the adversarial replication tests: a man in the middle
// between a Shoal node and an honest JS writer. It ends secret-stream on both
// sides (so it sees every protomux frame in plaintext), recomputes the
// channel capabilities for its own sessions, and changes what the writer
// sends in one of these ways (`mode`):
//   capability  a wrong capability in the channel open
//   block       one byte of every block value flipped
//   signature   one byte of every upgrade signature flipped
//   node        one byte of the first tree node hash of every upgrade flipped
//   malformed   every sync cut short, so it does not decode
//   oversized   a 16 MiB frame of random bytes, right after the handshake
// `closes` counts the connections the Shoal side ended.
'use strict'
const net = require('node:net')
const crypto = require('node:crypto')
const c = require('compact-encoding')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const caps = require('hypercore/lib/caps.js')
const { wire } = require('hypercore/lib/messages.js')

const TYPE_SYNC = 0
const TYPE_DATA = 3

// Splits a protomux frame into plain frames (batches are unpacked).
function unbatch (frame) {
  const state = { buffer: frame, start: 0, end: frame.byteLength }
  const channel = c.uint.decode(state)
  const type = c.uint.decode(state)
  if (channel !== 0 || type !== 0) return [{ channel, type, payload: frame.subarray(state.start) }]
  const out = []
  let current = c.uint.decode(state)
  while (state.start < state.end) {
    const len = c.uint.decode(state)
    if (len === 0) {
      current = c.uint.decode(state)
      continue
    }
    const item = frame.subarray(state.start, state.start + len)
    state.start += len
    const s = { buffer: item, start: 0, end: item.byteLength }
    const t = c.uint.decode(s)
    out.push({ channel: current, type: t, payload: item.subarray(s.start) })
  }
  return out
}

function encodeFrame ({ channel, type, payload }) {
  const state = { buffer: null, start: 0, end: 0 }
  c.uint.preencode(state, channel)
  c.uint.preencode(state, type)
  state.end += payload.byteLength
  state.buffer = Buffer.alloc(state.end)
  c.uint.encode(state, channel)
  c.uint.encode(state, type)
  state.buffer.set(payload, state.start)
  return state.buffer
}

// Rewrites the capability of a hypercore channel open for `to`'s session.
function reopen (payload, key, to, wrong) {
  const state = { buffer: payload, start: 0, end: payload.byteLength }
  const localId = c.uint.decode(state)
  const protocol = c.string.decode(state)
  const id = c.optionalBuffer.decode(state)
  const hs = wire.handshake.decode(state)
  const capability = wrong ? crypto.randomBytes(32) : caps.replicate(to.isInitiator, key, to.handshakeHash)
  return Buffer.concat([
    c.encode(c.uint, localId),
    c.encode(c.string, protocol),
    c.encode(c.optionalBuffer, id),
    c.encode(wire.handshake, { seeks: hs.seeks, capability })
  ])
}

function tamperData (payload, mode) {
  const m = c.decode(wire.data, payload)
  if (mode === 'block' && m.block) {
    m.block.value = Buffer.from(m.block.value)
    m.block.value[0] ^= 1
  } else if (mode === 'signature' && m.upgrade && m.upgrade.signature) {
    m.upgrade.signature = Buffer.from(m.upgrade.signature)
    m.upgrade.signature[10] ^= 1
  } else if (mode === 'node' && m.upgrade && m.upgrade.nodes.length > 0) {
    const n = m.upgrade.nodes[0]
    n.hash = Buffer.from(n.hash)
    n.hash[0] ^= 1
  } else {
    return payload
  }
  return c.encode(wire.data, m)
}

// Starts the proxy in front of the writer at `writerPort`; `key` is the log key.
function start ({ writerPort, key, mode }) {
  const sockets = new Set()
  const result = { closes: 0, addr: null, close: null }
  const server = net.createServer((shoalSocket) => {
    const writerSocket = net.connect(writerPort, '127.0.0.1')
    sockets.add(shoalSocket)
    sockets.add(writerSocket)
    const toShoal = new NoiseSecretStream(false, shoalSocket)
    const toWriter = new NoiseSecretStream(true, writerSocket)
    for (const s of [toShoal, toWriter]) s.on('error', () => {})
    shoalSocket.on('error', () => {})
    writerSocket.on('error', () => {})
    shoalSocket.on('close', () => {
      result.closes++
      writerSocket.destroy()
    })
    writerSocket.on('close', () => shoalSocket.destroy())

    if (mode === 'oversized') {
      toShoal.on('open', () => {
        const junk = Buffer.alloc(3 + 0xffffff)
        junk.writeUIntLE(0xffffff, 0, 3)
        crypto.randomFillSync(junk, 3)
        shoalSocket.write(junk)
      })
    }
    const forward = (from, to, fromWriter) => {
      from.on('data', async (frame) => {
        await Promise.all([toShoal.opened, toWriter.opened])
        if (frame.byteLength === 0) return
        for (const f of unbatch(frame)) {
          if (f.channel === 0 && f.type === 1) {
            f.payload = reopen(f.payload, key, to, fromWriter && mode === 'capability')
          } else if (fromWriter && f.channel !== 0 && f.type === TYPE_DATA) {
            f.payload = tamperData(f.payload, mode)
          } else if (fromWriter && mode === 'malformed' && f.channel !== 0 && f.type === TYPE_SYNC) {
            f.payload = f.payload.subarray(0, 1)
          }
          if (!to.destroyed) to.write(encodeFrame(f))
        }
      })
    }
    forward(toShoal, toWriter, false)
    forward(toWriter, toShoal, true)
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      result.addr = '127.0.0.1:' + server.address().port
      result.close = () => {
        for (const s of sockets) s.destroy()
        return new Promise((resolve) => server.close(resolve))
      }
      resolve(result)
    })
  })
}

module.exports = { start }
