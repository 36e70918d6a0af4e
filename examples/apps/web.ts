// Example app: the web front end. It calls orders through its sidecar's outbound
// listener (WEFT_OUTBOUND) with `Host: orders`, and passes x-canary and the trace context
// through (so a request shows as one trace across web and orders).
import { createServer, request } from 'node:http';

const port = Number(process.env['PORT'] ?? 8080);
const [outboundHost, outboundPort] = (process.env['WEFT_OUTBOUND'] ?? '127.0.0.1:15001').split(':');

const PASSED_ON = ['x-canary', 'traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled'];

function callOrders(incoming: Record<string, string | string[] | undefined>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: 'orders' };
    for (const name of PASSED_ON) {
      const value = incoming[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const req = request({ host: outboundHost, port: Number(outboundPort), path: '/orders', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

createServer(async (req, res) => {
  try {
    const orders = await callOrders(req.headers);
    const answer = {
      service: 'web',
      orders: orders.status === 200 ? JSON.parse(orders.body) : { status: orders.status, body: orders.body },
    };
    res.writeHead(orders.status === 200 ? 200 : 502, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(answer)}\n`);
  } catch (error) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`web: cannot reach orders: ${(error as Error).message}\n`);
  }
}).listen(port, '127.0.0.1', () => console.log(`web listening on 127.0.0.1:${port}`));
