/** What `qts proxy` needs to send records to a sensor, loaded only when it runs. */
export { PushSocket } from "../sensor/zmtp/mod.ts";
export { encodeHeader, encodeRecord } from "../sensor/wire/mod.ts";
