export * from "./memcached_client.ts";
