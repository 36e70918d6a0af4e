import Pool from 'undici/lib/dispatcher/pool.js';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { pino } from 'pino';
import * as tls from 'node:tls'; import * as http from 'node:http';
globalThis.keep = [Pool, grpc, create, pino, tls, http];
