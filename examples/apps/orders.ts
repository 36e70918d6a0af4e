// Example app: the orders service. It answers with its version and workload, so you can
// watch the route split traffic between v1 and v2.
import { createServer } from 'node:http';

const port = Number(process.env['PORT'] ?? 8080);
const workload = process.env['WEFT_WORKLOAD'] ?? 'orders';
const labels = process.env['WEFT_LABELS'] ?? '';
const feature = process.env['ORDERS_FEATURE'];

createServer((req, res) => {
  const body = JSON.stringify({
    service: 'orders',
    workload,
    labels,
    path: req.url,
    orders: [{ id: 1, item: 'loom', ...(feature ? { shipping: feature } : {}) }],
  });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(`${body}\n`);
}).listen(port, '127.0.0.1', () => console.log(`orders (${workload}) listening on 127.0.0.1:${port}`));
