#!/usr/bin/env node
// Trade on dex peers through a grape with the stock Grenache client (grenache-nodejs-http).
//
//   node dex-client.js [--grape URL] [--peer NAME] [--map] [--gzip] [--timeout MS] OP [KEY=VALUE ...]
//
// The payload is {op: OP, KEY: VALUE, ...} (spec/rpc.md); amounts, ids and names stay strings,
// other values that read as JSON (numbers, true/false) are sent as JSON. Without --peer the
// request goes to any peer announced as "dex_rpc" (fine for reads); with --peer NAME it goes to
// "dex_rpc:NAME", that peer alone: orders belong to the peer's trader, so place and cancel
// through the same one. --map calls every peer and prints their answers as one array.
// Prints the reply's data as one JSON line; on an error prints it to stderr and exits 1.
'use strict'

const { PeerRPCClient } = require('grenache-nodejs-http')
const Link = require('grenache-nodejs-link')

const STRINGS = new Set(['market', 'side', 'type', 'price', 'qty', 'client_id', 'tif', 'stp'])

function parseArgs (argv) {
  const opts = { grape: process.env.GRAPE || 'http://127.0.0.1:30001', timeout: 10000 }
  const rest = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--grape') opts.grape = argv[++i]
    else if (arg === '--peer') opts.peer = argv[++i]
    else if (arg === '--timeout') opts.timeout = Number(argv[++i])
    else if (arg === '--map') opts.map = true
    else if (arg === '--gzip') opts.gzip = true
    else rest.push(arg)
  }
  if (!rest.length) {
    console.error('usage: node dex-client.js [--grape URL] [--peer NAME] [--map] [--gzip] ' +
      '[--timeout MS] OP [KEY=VALUE ...]')
    process.exit(2)
  }
  const payload = { op: rest[0] }
  for (const pair of rest.slice(1)) {
    const at = pair.indexOf('=')
    const key = pair.slice(0, at)
    const text = pair.slice(at + 1)
    payload[key] = STRINGS.has(key) ? text : readValue(text)
  }
  return { opts, payload }
}

function readValue (text) {
  try {
    return JSON.parse(text)
  } catch (e) {
    return text
  }
}

const { opts, payload } = parseArgs(process.argv.slice(2))
const link = new Link({ grape: opts.grape })
link.start()
const peer = new PeerRPCClient(link, {})
peer.init()

const service = opts.peer ? `dex_rpc:${opts.peer}` : 'dex_rpc'
// Always a timeout: without one the stock client can wait forever.
peer[opts.map ? 'map' : 'request'](service, payload, { timeout: opts.timeout, compress: !!opts.gzip },
  (err, data) => {
    if (err) console.error(`error: ${err.message}`)
    else console.log(JSON.stringify(data))
    peer.stop()
    link.stop()
    process.exit(err ? 1 : 0)
  })
