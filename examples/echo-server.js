#!/usr/bin/env node
// A stock Grenache service (grenache-nodejs-http PeerRPCServer) for the interop tests:
//
//   node echo-server.js GRAPE_URL NAME PORT
//
// Announces NAME at PORT every second and answers {echo: payload, port: PORT}, or the error
// payload.fail when there is one. Prints "ready" once listening. Listens on 127.0.0.1 only.
'use strict'

const { PeerRPCServer } = require('grenache-nodejs-http')
const Link = require('grenache-nodejs-link')

const [grape, name, portText] = process.argv.slice(2)
const port = Number(portText)

const link = new Link({ grape })
link.start()
const peer = new PeerRPCServer(link, { timeout: 300000 })
peer.init()

const service = peer.transport('server')
// The stock listen(port) binds every interface; keep this test double on loopback.
const makeSocket = service.getSocket.bind(service)
service.getSocket = (secure) => {
  const socket = makeSocket(secure)
  const listen = socket.listen.bind(socket)
  socket.listen = (p) => listen(p, '127.0.0.1', () => console.log('ready'))
  return socket
}
service.listen(port)
link.startAnnouncing(name, service.port, { interval: 1000 })

service.on('request', (rid, key, payload, handler) => {
  if (payload && payload.fail) handler.reply(new Error(payload.fail))
  else handler.reply(null, { echo: payload, port })
})

process.on('SIGTERM', () => {
  link.stopAnnouncing(name, service.port)
  service.stop()
  link.stop()
  process.exit(0)
})
