#!/usr/bin/env node
// Container health check (the image's HEALTHCHECK): connect to the proxy's port, send PING,
// exit 0 on +PONG or -NOAUTH (alive, a password is set), 1 otherwise. With --no-plain-port it
// dials the TLS port instead, presenting --tls-client-cert-file (else --tls-cert-file) when
// client certificates are asked for; the proxy's certificate is not verified: this asks
// whether the proxy in this container answers, not whether a client should trust it.
//
//   node bin/ihs-healthcheck.js [proxy flags]
//
// Port and address come from the proxy's own configuration, read the way the proxy reads
// it (dist/config.js: flags > IHS_* env > --config file > defaults): from the flags given
// here or, without any, from the proxy's command line (/proc/1/cmdline: the proxy is PID 1,
// or PID 1 is docker-init running it). A HEALTHCHECK runs with the container's env but not
// its command, so `docker run ... image --port 7000` is seen only through /proc/1.
import { readFileSync } from 'node:fs';
import net from 'node:net';

const TIMEOUT_MS = 2000;

function proxyArgs() {
  if (process.argv.length > 2) return process.argv.slice(2);
  let cmdline;
  try {
    cmdline = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
  } catch {
    return []; // no /proc: env and defaults only
  }
  const launcher = cmdline.findIndex((arg) => arg.endsWith('interface-hash-server.js'));
  return launcher < 0 ? [] : cmdline.slice(launcher + 1).filter((arg) => arg !== '');
}

const { parseConfig } = await import(new URL('../dist/config.js', import.meta.url).href);
let config;
try {
  config = parseConfig(proxyArgs());
} catch (err) {
  // The proxy would refuse this configuration too: it cannot be serving.
  console.error(`ihs-healthcheck: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const { bind } = config;
const port = config.plainPort ? config.port : config.tlsPort;
// A wildcard bind listens on loopback too.
const host = bind === '0.0.0.0' || bind === '::' || bind === '' ? '127.0.0.1' : bind;

function verdict(reply) {
  if (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')) return 0;
  console.error(`ihs-healthcheck: ${host}:${port} answered ${JSON.stringify(reply.trim())}`);
  return 1;
}

async function dial() {
  if (config.plainPort) return { socket: net.connect({ host, port }), ready: 'connect' };
  const tls = await import('node:tls');
  const cert = config.tls.authClients === 'no' ? {} : { cert: readFileSync(config.tlsClient.certFile), key: readFileSync(config.tlsClient.keyFile) };
  return { socket: tls.connect({ host, port, rejectUnauthorized: false, ...cert }), ready: 'secureConnect' };
}

let dialled;
try {
  dialled = await dial();
} catch (err) {
  console.error(`ihs-healthcheck: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const { socket, ready } = dialled;
let reply = '';
socket.setTimeout(TIMEOUT_MS, () => {
  console.error(`ihs-healthcheck: no reply from ${host}:${port} within ${TIMEOUT_MS} ms`);
  process.exit(1);
});
socket.on(ready, () => socket.write('PING\r\n'));
socket.on('data', (chunk) => {
  reply += chunk.toString('latin1');
  if (!reply.includes('\r\n')) return;
  const code = verdict(reply);
  socket.destroy();
  process.exit(code);
});
socket.on('error', (err) => {
  console.error(`ihs-healthcheck: ${host}:${port}: ${err.message}`);
  process.exit(1);
});
socket.on('end', () => {
  console.error(`ihs-healthcheck: ${host}:${port} closed the connection without a reply`);
  process.exit(1);
});
