#!/usr/bin/env node
// Sends one stream-mode request (the _gr header, chunked body) with the stock client's
// peer.stream to a service and prints the raw reply body, or "error: ..." and exit 1.
//
//   node stream-client.js GRAPE_URL NAME TEXT
'use strict'

const { PeerRPCClient } = require('grenache-nodejs-http')
const Link = require('grenache-nodejs-link')

const [grape, name, text] = process.argv.slice(2)
const link = new Link({ grape })
link.start()
const peer = new PeerRPCClient(link, {})
peer.init()

const finish = (code, line) => {
  console[code ? 'error' : 'log'](line)
  peer.stop()
  link.stop()
  process.exit(code)
}
const stream = peer.stream(name, { timeout: 10000 })
const chunks = []
stream.on('data', (chunk) => chunks.push(chunk))
stream.on('end', () => finish(0, Buffer.concat(chunks).toString()))
stream.on('error', (err) => finish(1, `error: ${err.message}`))
stream.end(text)
