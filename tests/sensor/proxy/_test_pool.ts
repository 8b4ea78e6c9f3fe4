/**
 * Test scaffolding only: a minimal round-robin picker over fixed addresses, so listener tests
 * run without the real pool (src/sensor/proxy/upstream_pool.ts). It knows no health checks.
 * @module
 */
import type {
  PickedUpstream,
  PoolSnapshot,
  UpstreamPicker,
} from "../../../src/sensor/proxy/upstream_picker.ts";

export class TestPool implements UpstreamPicker {
  readonly upstreams: { address: string; hostname: string; port: number; active: number }[];
  readonly failures = new Map<string, number>();
  #next = 0;

  constructor(addresses: string[]) {
    this.upstreams = addresses.map((address) => {
      const i = address.lastIndexOf(":");
      return {
        address,
        hostname: address.slice(0, i),
        port: Number(address.slice(i + 1)),
        active: 0,
      };
    });
  }

  pick(_ip: string, exclude?: ReadonlySet<PickedUpstream>): PickedUpstream | undefined {
    for (let i = 0; i < this.upstreams.length; i++) {
      const u = this.upstreams[this.#next++ % this.upstreams.length]!;
      if (!exclude?.has(u)) return u;
    }
    return undefined;
  }
  acquire(u: PickedUpstream): void {
    (u as { active: number }).active++;
  }
  release(u: PickedUpstream): void {
    (u as { active: number }).active--;
  }
  reportFailure(u: PickedUpstream): void {
    this.failures.set(u.address, (this.failures.get(u.address) ?? 0) + 1);
  }
  reportSuccess(): void {}
  start(): void {}
  stop(): Promise<void> {
    return Promise.resolve();
  }
  snapshot(): PoolSnapshot {
    return {
      name: "test",
      balance: "round_robin",
      upstreams: this.upstreams.map((u) => ({
        address: u.address,
        healthy: true,
        active: u.active,
        fails: this.failures.get(u.address) ?? 0,
        weight: 1,
      })),
    };
  }
}
