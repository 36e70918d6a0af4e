// The messages between the bench and its fleet of simulated sidecars (a child process on
// the load CPUs, so the control plane's core does only control-plane work).
import type { WorkloadCredentials } from '../peers/join.ts';
import type { SimNode } from './sim-sidecar.ts';

export type FleetCommand =
  | {
      readonly type: 'connect';
      readonly target: string;
      readonly nodes: readonly SimNode[];
      /** The control plane's roots, and a certificate per service the nodes belong to. */
      readonly trustBundlePem: string;
      readonly credentials: Readonly<Record<string, WorkloadCredentials>>;
      /** Connect this many, wait until they hold a snapshot, then the next. */
      readonly batch: number;
      readonly timeoutMs: number;
    }
  | { readonly type: 'await-change'; readonly changeId: number; readonly timeoutMs: number }
  | { readonly type: 'close' };

export type FleetReply =
  | { readonly type: 'connected'; readonly synced: number; readonly errors: readonly string[] }
  | {
      readonly type: 'change-acked';
      readonly changeId: number;
      /** How many sidecars ACKed a response carrying this change (or a later one). */
      readonly acked: number;
      /** Wall-clock ms of the last of those ACKs (see wallClockMs). */
      readonly lastAckAtMs: number;
    }
  | { readonly type: 'closed' };
