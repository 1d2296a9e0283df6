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

function tempHome () {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'shoal-test-'))
}

// Starts `shoal serve` and resolves once it has printed its control line.
// Listeners go on loopback with port 0 unless `args` says otherwise; the
// addresses chosen are in the output ("s3 http://127.0.0.1:PORT").
function serve (home, args = []) {
  if (!args.some((a) => a.startsWith('--listen-s3'))) args = [...args, '--listen-s3', '127.0.0.1:0']
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
        resolve({ child, output: () => out, s3: s3 ? s3[1] : null })
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

module.exports = { BIN, run, ok, tempHome, serve, waitExit }
