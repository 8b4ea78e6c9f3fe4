/** The qts release, printed by `qts --version` and reported on /healthz. */
export const VERSION = "0.1.0";
