setTimeout(() => {
  gc();
  const m = process.memoryUsage();
  console.log('bare', (m.rss / 1048576).toFixed(1));
}, 300);
