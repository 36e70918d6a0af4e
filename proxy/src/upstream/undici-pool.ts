// undici's Pool, without the rest of undici: the package's index loads fetch, WebSocket,
// EventSource, caches and mocks too (+3 MB RSS per sidecar, and 3× the code), none of
// which the data path uses.
/// <reference path="./undici-modules.d.ts" />
import type { Pool as PoolClass } from 'undici';
import PoolImpl from 'undici/lib/dispatcher/pool.js';

export const Pool: typeof PoolClass = PoolImpl;
export type Pool = PoolClass;
