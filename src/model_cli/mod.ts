/** `qts model` command (train / eval of the time-feature traffic classifier). */
export { modelCommand } from "./model_command.ts";
