/**
 * The TrActor API suite (tractor_api_test.ts, tractor_hostile_test.ts, tractor_clients_api_test.ts)
 * again, on PostgreSQL: the
 * same tests, each TrActor on a fresh database of a throwaway cluster this module starts.
 */
import { postgresMissing } from "../../_support/postgres_cluster.ts";
import { useStore } from "./_tractor_fixture.ts";

if (postgresMissing === undefined) {
  useStore("postgres");
  await import("./tractor_api_test.ts");
  await import("./tractor_hostile_test.ts");
  await import("./tractor_clients_api_test.ts");
} else {
  Deno.test({
    name: `TrActor API suite on PostgreSQL (skipped: ${postgresMissing})`,
    ignore: true,
    fn() {},
  });
}
