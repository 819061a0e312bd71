/** What the service wires: the app, and the whitelist entries granted through it for the rule engine. */
export { type ApiConfig, type ApiOptions, buildApp, type Probe, type RunningApi, startApi } from './app.ts'
export { loadWhitelist, toRulesFileWhitelist } from './repositories/whitelist.ts'
