import { createRequire } from 'node:module';
const r = createRequire(import.meta.url);
globalThis.k = [r('node:http'), r('node:tls'), r('node:net'), r('node:crypto')];
setTimeout(() => {
  gc();
  const m = process.memoryUsage();
  console.log('rss', (m.rss / 1048576).toFixed(1), 'heapTotal', (m.heapTotal / 1048576).toFixed(1), process.moduleLoadList.length);
}, 300);
