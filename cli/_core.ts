// Internal: the core the command line needs at start-up: mod.ts without sessions/, which only
// chat, bundle, inbox, fetch and group use (they import it themselves, lazily through cli/main.ts).
// Importing mod.ts here loaded all of sessions/ for every command (4-8 ms of start-up).
export * from "../engines/mod.ts";
export * from "../errors.ts";
export * from "../cascade/mod.ts";
export * from "../contacts/mod.ts";
