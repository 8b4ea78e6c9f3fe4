/**
 * The fuzz targets by name.
 * @module
 */

import { configTarget } from "./config_target.ts";
import { httpTarget } from "./http_target.ts";
import { pcapTarget } from "./pcap_target.ts";
import { proxyProtocolTarget } from "./proxy_protocol_target.ts";
import type { FuzzTarget } from "./_target.ts";
import { wireTarget } from "./wire_target.ts";
import { zmtpTarget } from "./zmtp_target.ts";

/** Target names in run order. */
export const TARGET_NAMES = ["wire", "zmtp", "pcap", "config", "http", "proxy"] as const;

/** A target name. */
export type TargetName = (typeof TARGET_NAMES)[number];

/** Options every target factory may use. */
export interface TargetOptions {
  /** Repository root for fixtures. Default ".". */
  root?: string;
  /** Loopback inputs for the zmtp target's final phase. */
  loopbackInputs?: number;
}

/** Builds the target `name`. */
export function targets(name: TargetName, options: TargetOptions = {}): FuzzTarget {
  const root = options.root ?? ".";
  switch (name) {
    case "wire":
      return wireTarget();
    case "zmtp":
      return zmtpTarget(
        options.loopbackInputs === undefined ? {} : { loopbackInputs: options.loopbackInputs },
      );
    case "pcap":
      return pcapTarget({ root });
    case "config":
      return configTarget({ root });
    case "http":
      return httpTarget();
    case "proxy":
      return proxyProtocolTarget();
  }
}
