/** `qts replay` as its own entry point, for tests that run it as a process. */
import { replayCommand } from "../../../src/commands/replay_command.ts";

Deno.exit(await replayCommand(Deno.args));
