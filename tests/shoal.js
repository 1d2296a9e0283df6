// Runs the shoal binary for tests: SHOAL_BIN, or build/shoal next to the repo.
'use strict'
const { spawnSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const BIN = process.env.SHOAL_BIN || path.join(__dirname, '..', 'build', 'shoal')

// Runs `shoal --home HOME ...args`; returns { code, stdout (Buffer), stderr }.
function run (home, args, { input } = {}) {
  const r = spawnSync(BIN, ['--home', home, ...args], { input, maxBuffer: 1 << 30 })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() }
}

// Like run, but throws unless the command succeeds; returns stdout as text.
function ok (home, args, opts) {
  const r = run(home, args, opts)
  if (r.code !== 0) {
    throw new Error(`shoal ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  }
  return r.stdout.toString()
}

// Like ok, without blocking the event loop (for commands that talk to a JS
// peer in this process). Resolves to stdout as text.
function okAsync (home, args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--home', home, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(out)
      else reject(new Error(`shoal ${args.join(' ')} exited ${code}: ${err}`))
    })
    child.stdin.end(input)
  })
}

// Runs another program (a stock client) to its end, killed after
// `timeoutMs`; resolves with its exit code and output, never rejects.
function client (program, args, timeoutMs = 10000) {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (e) => { stderr += e.message })
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

function tempHome () {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-test-'))
}

// Starts `shoal serve` and resolves once it has printed its control line.
// Listeners go on loopback with port 0 unless `args` says otherwise; the
// addresses chosen are in the output ("s3 http://127.0.0.1:PORT",
// "mqtt mqtt://127.0.0.1:PORT", "peer 127.0.0.1:PORT KEY").
function serve (home, args = []) {
  if (!args.some((a) => a.startsWith('--listen-s3'))) args = [...args, '--listen-s3', '127.0.0.1:0']
  if (!args.some((a) => a.startsWith('--listen-peer'))) args = [...args, '--listen-peer', '127.0.0.1:0']
  if (!args.some((a) => a.startsWith('--listen-mqtt'))) args = [...args, '--listen-mqtt', '127.0.0.1:0']
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--home', home, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error('serve did not start: ' + out + err))
    }, 10000)
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('control ')) {
        clearTimeout(timer)
        const s3 = /^s3 (\S+)$/m.exec(out)
        const peer = /^peer (\S+) (\S+)$/m.exec(out)
        const dht = /^dht (\S+)$/m.exec(out)
        const mqtt = /^mqtt mqtt:\/\/(\S+):(\d+)$/m.exec(out)
        const mqtts = /^mqtts mqtts:\/\/(\S+):(\d+)$/m.exec(out)
        const https = /^https (\S+)$/m.exec(out)
        resolve({
          child,
          output: () => out,
          errors: () => err,
          s3: s3 ? s3[1] : null,
          https: https ? https[1] : null, // only with [tls]
          peer: peer ? peer[1] : null,
          peerKey: peer ? peer[2] : null,
          dht: dht ? dht[1] : null,
          mqttHost: mqtt ? mqtt[1] : null,
          mqttPort: mqtt ? Number(mqtt[2]) : null,
          mqttsPort: mqtts ? Number(mqtts[2]) : null // only with [tls]
        })
      }
    })
    child.stderr.on('data', (d) => { err += d })
    child.on('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`serve exited ${code}: ${err}`))
    })
  })
}

function waitExit (child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode)
    child.on('exit', (code) => resolve(code))
  })
}

// Debian's aws-cli: /usr/bin/aws (the one on PATH may be a shim without botocore).
const AWS = '/usr/bin/aws'

// The keys of the owner (or of `user`) of `home`, as the environment an S3
// client reads, for the S3 API at `endpoint`.
function clientEnv (home, endpoint, user) {
  const args = user ? ['credentials', '--user', user, '--json'] : ['credentials', '--json']
  const keys = JSON.parse(ok(home, args))
  // The endpoint is plain HTTP on loopback: no CA bundle applies (rclone
  // refuses to start with one set for a plain transport).
  const { AWS_CA_BUNDLE, ...inherited } = process.env
  return {
    ...inherited,
    AWS_ACCESS_KEY_ID: keys.accessKeyId,
    AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
    S3_ENDPOINT: endpoint
  }
}

// Runs the aws-cli against env.S3_ENDPOINT; throws on failure unless `allowFail`.
function aws (env, args, { input, allowFail } = {}) {
  const r = spawnSync(AWS, ['--endpoint-url', env.S3_ENDPOINT, ...args], { env, input, maxBuffer: 1 << 30 })
  if (r.error) throw r.error
  const out = { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() }
  if (!allowFail && out.code !== 0) throw new Error(`aws ${args.join(' ')}: ${out.stderr}`)
  return out
}

// Calls `fn` (which may be async) every 25 ms until it returns something
// truthy, and returns that; throws 'timed out: WHAT' after `ms`.
async function poll (fn, what, ms = 60000) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > deadline) throw new Error('timed out: ' + what)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

// A self-signed certificate for 127.0.0.1 and localhost, and its key
// (`dir`/cert.pem, `dir`/key.pem), made with the openssl command line.
function makeCertificate (dir) {
  fs.mkdirSync(dir, { recursive: true })
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'])
  if (r.status !== 0) throw new Error('openssl req failed: ' + String(r.stderr))
}

module.exports = {
  BIN, AWS, run, ok, okAsync, client, tempHome, serve, waitExit, clientEnv, aws, poll, makeCertificate
}
