export * from "./memcached_client.ts";
export * from "./memcached_store.ts";
