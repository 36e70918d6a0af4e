// A small program the interception test runs inside network namespaces, as the apps and the
// destinations outside the mesh (the test process itself cannot enter a namespace):
//   node peer.ts http <name> <port>       HTTP server on 0.0.0.0: answers what it received as JSON
//   node peer.ts tcp-echo <port>          TCP server: echoes, then closes once the client has
//   node peer.ts send <host> <port> <hex> TCP client: sends the bytes, half-closes, prints the reply as hex
// Servers print {"msg":"listening"} once they accept connections.
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'http') {
  const [name = 'app', port = '8080'] = args;
  createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ app: name, url: req.url, headers: req.headers, remote: req.socket.remoteAddress });
      res.writeHead(200, { 'content-type': 'application/json', 'x-app': name }).end(body);
    });
  }).listen(Number(port), '0.0.0.0', () => console.log(JSON.stringify({ msg: 'listening', port: Number(port) })));
} else if (mode === 'tcp-echo') {
  const [port = '9000'] = args;
  createTcpServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  }).listen(Number(port), '0.0.0.0', () => console.log(JSON.stringify({ msg: 'listening', port: Number(port) })));
} else if (mode === 'send') {
  const [host = '127.0.0.1', port = '9000', hex = ''] = args;
  const socket = connect({ host, port: Number(port), allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  socket.on('end', () => {
    process.stdout.write(Buffer.concat(chunks).toString('hex'));
    socket.end();
  });
  socket.on('error', (error) => {
    console.error(error.message);
    process.exit(1);
  });
  socket.end(Buffer.from(hex, 'hex'));
} else {
  console.error(`usage: peer.ts http <name> <port> | tcp-echo <port> | send <host> <port> <hex>`);
  process.exit(2);
}
