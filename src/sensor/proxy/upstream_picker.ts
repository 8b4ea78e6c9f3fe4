/**
 * What the proxy needs of an upstream pool: the contract `UpstreamPool`
 * (`upstream_pool.ts`) fulfils. Listeners are written against this shape so that a test can
 * hand them a pool of its own and the proxy never depends on how a pool balances.
 */
export interface UpstreamPicker {
  pick(clientIp: string, exclude?: ReadonlySet<PickedUpstream>): PickedUpstream | undefined;
  acquire(u: PickedUpstream): void;
  release(u: PickedUpstream): void;
  reportFailure(u: PickedUpstream): void;
  reportSuccess(u: PickedUpstream): void;
  start(): void;
  stop(): Promise<void>;
  snapshot(): PoolSnapshot;
}

/** One upstream as a pool hands it out. */
export interface PickedUpstream {
  readonly address: string;
  readonly hostname: string;
  readonly port: number;
  readonly active: number;
}

/** A pool's state for `/metrics` and the API. */
export interface PoolSnapshot {
  name: string;
  balance: string;
  upstreams: { address: string; healthy: boolean; active: number; fails: number; weight: number }[];
}
