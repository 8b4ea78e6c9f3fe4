import { CaptureReader, decodePacket } from "../../../src/shared/capture/mod.ts";
import type { Flow } from "../../../src/analyzer/flows/flow.ts";
import { FlowTable, type FlowTableOptions } from "../../../src/analyzer/flows/flow_table.ts";

/** Runs a capture through the reader and a flow table, returning the emitted flows in order. */
export async function flowsOf(file: Uint8Array, options: FlowTableOptions = {}): Promise<{
  flows: Flow[];
  table: FlowTable;
}> {
  const flows: Flow[] = [];
  const table = new FlowTable(options, (f) => flows.push(f));
  const reader = new CaptureReader(file);
  await reader.forEach((v) => {
    if (decodePacket(v) === 0) table.add(v);
  });
  if (reader.error) throw reader.error;
  table.flush();
  return { flows, table };
}
