/** `qts tractor` as a process for tests (main.ts wiring belongs to the lead). */
import { tractorCommand } from "../../../src/commands/tractor_command.ts";

Deno.exit(await tractorCommand(Deno.args));
