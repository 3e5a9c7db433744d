/** The simulated SGX platform: identity, quotes, quoting service, simulated PCCS, sim measurement. */
export {
  SimPlatform,
  loadOrCreateSimPlatform,
  collateralToJson,
  SIM_NAMES,
  SIM_CRL_URLS,
  type SimCollateral,
  type SimCollateralOptions,
  type SimQuoteInput,
  type QveCollateralJson,
  type LoadSimPlatformOptions,
} from './platform.js';
export { simStateDir, stateRoot } from './state.js';
export { startQuotingService, type QuotingService, type QuotingServiceOptions } from './quoting-service.js';
export { startSimPccs, type SimPccs, type SimPccsOptions } from './pccs.js';
export { computeSimMrenclave, SIM_MEASUREMENT_VERSION, type SimMeasurementInput } from './measurement.js';
export type { TcbStatus } from './collateral.js';
