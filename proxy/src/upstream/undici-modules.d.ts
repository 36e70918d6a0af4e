// Types for the one undici module imported by path (undici-pool.ts): its Pool class.
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';

  const PoolImpl: typeof Pool;
  export default PoolImpl;
}
