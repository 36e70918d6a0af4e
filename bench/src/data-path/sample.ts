// One measurement: a scenario against a topology in one round.
import type { TopologyName } from './topology.ts';

export interface Sample {
  readonly scenario: string;
  readonly topology: TopologyName;
  /** 1-based; 0 for measurements taken once per run (peak memory at the end). */
  readonly round: number;
  readonly metrics: Readonly<Record<string, number>>;
  /** Failed requests and non-2xx responses. */
  readonly errors: number;
  /** The topology cannot run this scenario yet (and why). */
  readonly unsupported?: string;
  /** The load generator failed; what it said. */
  readonly failure?: string;
}
