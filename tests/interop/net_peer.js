// A JS peer for src/net/tcp_test.cc: connects to a Shoal Network over TCP with
// @hyperswarm/secret-stream and protomux, opens channel "shoal/echo" (id
// "abc"), sends messages of several sizes and checks that each comes back
// whole. Exits 0 on success and 1 with a message otherwise.
//   node net_peer.js PORT EXPECTED_REMOTE_KEY_HEX
'use strict'
const net = require('node:net')
const NoiseSecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const c = require('compact-encoding')

const [port, expectedKey] = process.argv.slice(2)
const timer = setTimeout(() => fail(new Error('timed out')), 20000)

function fail (err) {
  console.error('net_peer:', err.message)
  process.exit(1)
}

const socket = net.connect(Number(port), '127.0.0.1')
const stream = new NoiseSecretStream(true, socket)
stream.on('error', fail)
stream.setKeepAlive(5000)
const mux = new Protomux(stream)

const sizes = [1, 100, 65536, 1 << 20, 0]
const sent = sizes.map((n, i) => Buffer.alloc(n, i + 1))
const got = []

const channel = mux.createChannel({
  protocol: 'shoal/echo',
  id: Buffer.from('abc'),
  handshake: c.string,
  messages: [{
    encoding: c.buffer,
    onmessage (m) {
      got.push(m)
      if (got.length === sent.length) done()
    }
  }],
  onopen (handshake) {
    if (handshake !== 'hello from shoal') fail(new Error('handshake was ' + handshake))
    if (stream.remotePublicKey.toString('hex') !== expectedKey) fail(new Error('wrong remote key'))
    for (const m of sent) channel.messages[0].send(m)
  },
  onclose () {
    if (got.length !== sent.length) fail(new Error('closed early'))
  }
})
channel.open('hello from js')

function done () {
  for (let i = 0; i < sent.length; i++) {
    if (!got[i].equals(sent[i])) fail(new Error('message ' + i + ' differs'))
  }
  clearTimeout(timer)
  channel.close()
  stream.end()
  setTimeout(() => process.exit(0), 50)
}
