// ports.mjs: a free 127.0.0.1 TCP port for a program a test starts.
//
// A port the kernel picks with bind(0) comes from the ephemeral range
// (ip_local_port_range, 32768-60999 by default), the range every outgoing
// connection of the test (to the stand-ins, between processes) also takes its
// local port from: between the test choosing a port and the program binding
// it, such a connection can take it, and the program then exits with
// "address in use". So ports come from below that range, at random, each
// checked bindable and never handed out twice by one process.
//
// As a program: node ports.mjs [USED...] prints one port not among USED
// (the shell tests' free_port).
import net from 'node:net';

const LOW = 20000;
const HIGH = 32768; // exclusive: the default ephemeral range starts here
const given = new Set();

function bindable(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

export async function freePort(exclude = []) {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (given.has(port) || exclude.includes(port)) continue;
    if (await bindable(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no bindable port in ${LOW}-${HIGH - 1} after 200 tries`);
}

if (process.argv[1] && import.meta.filename === (await import('node:fs')).realpathSync(process.argv[1])) {
  console.log(await freePort(process.argv.slice(2).map(Number)));
}
