/**
 * The registry of named environments, as one import: the record schema (record.ts) and the
 * parts of src/core/registry/, each with one job (see each file's top comment):
 *
 *   layout.ts             the state directory: where, its layout, its owner
 *   trust.ts              root in a user's state directory: what it may believe
 *   holder.ts             holder identity and verified opens of namespace files
 *   reservations.ts       reserve() / commit() / abort() for create
 *   lookup.ts             find, get and lock one environment
 *   list.ts               every environment the caller may see
 *   attribution-names.ts  which host namespaces are which live environment's
 *   links.ts              the /run/netns link and the pins
 *   undo.ts               undo of creates killed half-way
 *   gc.ts                 garbage collection
 *
 * Code inside src/ imports the part it needs; this index is for tests and the library.
 */
export {
  ENV_NAME_PATTERN,
  ENV_RECORD_SCHEMA_VERSION,
  isoTimestamp,
  parseEnvRecord,
  validateName,
  validateNewName,
  type CreateProgress,
  type EnvAdoption,
  type EnvOptions,
  type EnvRecord,
  type EnvResources,
  type NewEnvRecord,
  type NotedVeth,
  type ProcessIdentity,
  type ReservationRecord,
} from './record.js';
export {
  environmentNamesIn,
  otherUsersStateDirs,
  ownLocation,
  stateDirectory,
  type EnvironmentLocation,
  type ListEnvironmentsOptions,
  type RegistryOptions,
} from './registry/layout.js';
export { foreignRecordProblem } from './registry/trust.js';
export {
  HolderReusedError,
  holderState,
  livePins,
  openVerified,
  processIdentity,
  readNamespaceInodes,
  type HolderState,
  type VerifiedNamespace,
  type VerifiedNamespaces,
} from './registry/holder.js';
export { EnvironmentExistsError, reserve, type ReplacedEntry, type Reservation } from './registry/reservations.js';
export { findEnvironment, getEnvironment, hasEntry, lockEnvironment, type EnvironmentLock, type ListedEnvironment } from './registry/lookup.js';
export {
  listEnvironments,
  reachableEnvironmentNames,
  type CreatingEnvironment,
  type EnvironmentListing,
  type RegistryProblem,
} from './registry/list.js';
export { environmentNamesByInode } from './registry/attribution-names.js';
export { removeNetnsLink, unmountPins } from './registry/links.js';
export type { UndoneCreate } from './registry/undo.js';
export { collectGarbage, type GcKept, type GcRemoved, type GcResult } from './registry/gc.js';
