import * as http from 'node:http';
import * as tls from 'node:tls';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import Pool from 'undici/lib/dispatcher/pool.js';

globalThis.keep = [Pool, grpc, create, pino, tls, http];
