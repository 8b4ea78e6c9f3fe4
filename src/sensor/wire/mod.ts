export * from "./record.ts";
export * from "./decode_record.ts";
export * from "./encode_record.ts";
export * from "./header.ts";
export * from "./client_ip.ts";
export * from "./peek_client.ts";
