/** Sessions (ИВС): FTP control + data connections, and one client's flows to one service. */
export { SessionBuilder } from "./session_builder.ts";
export type { SessionBuilderOptions, SessionRole } from "./session_builder.ts";
export { ftpDataEndpoint } from "./ftp_data_endpoint.ts";
export type { FtpDataEndpoint } from "./ftp_data_endpoint.ts";
export { FtpControl } from "./ftp_control.ts";
export { HttpExchanges, MAX_DISTINCT, OTHER } from "./http_exchanges.ts";
export type { HttpSummary } from "./http_exchanges.ts";
