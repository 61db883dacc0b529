/**
 * nsm as a library: the core, typed, for scripts that should not parse CLI output.
 *
 *   import { listNamespaces } from 'nsm';
 *   const { namespaces } = await listNamespaces({ types: ['net'] });
 *
 * Nothing here prints; errors are NsmError (UsageError, SysError) with one-line messages.
 */
export { listNamespaces, type ListOptions, type NamespaceListing, type NamespaceSummary } from './core/listing.js';
export { scanHost, scanHostSync, type ScanOptions } from './core/scan.js';
export {
  inspect,
  NS_ENTRIES,
  type InspectedNamespace,
  type Inspection,
  type InspectOptions,
  type NsEntryName,
  type NsPidLevel,
  type Sharing,
} from './core/inspect.js';
export { diff, type Comparison, type DiffOptions, type Sameness, type TypeComparison } from './core/diff.js';
export { processesByNamespace, type GroupedProcess, type NamespaceGroup, type ProcessGrouping, type PsOptions } from './core/ps.js';
export { namespaceTree, type NamespaceTree, type TreeNode, type TreeOptions, type TreeProcess, type TreeView } from './core/tree.js';
export { hostReference, type HostReference, type HostReferenceKind } from './core/host-reference.js';
export {
  parseTarget,
  resolveTarget,
  openTarget,
  targetLabel,
  readTargetNamespaces,
  type EntryReading,
  type OpenedTarget,
  type OpenTargetOptions,
  type Target,
  type TargetSpec,
} from './core/target.js';
export { attribute, NETNS_RUN_DIR, OWNER_KINDS, type OwnerFilter } from './core/attribution.js';
export {
  heldBy,
  type Attribution,
  type HeldBy,
  type HostScan,
  type Namespace,
  type NsFdHolder,
  type NsMount,
  type NsThreadMember,
  type ProcessInfo,
  type ScanStats,
} from './core/model.js';
export { NS_TYPES, NS_TYPE_NAMES, isNsType, nsTypeInfo, type NsType, type NsTypeInfo } from './sys/nstypes.js';
export {
  EXIT_NSM_FAILED,
  EXIT_OK,
  EXIT_RUNTIME,
  EXIT_USAGE,
  NsmError,
  SysError,
  UsageError,
  errnoOf,
  hasErrno,
} from './sys/errors.js';
export type { CgroupEntry, IdMapRange } from './sys/parse.js';
export type { NetnsId } from './sys/netlink.js';
export { createEnvironment, type CreatedEnvironment, type CreateOptions } from './core/create.js';
export { adoptEnvironment, type AdoptedEnvironment, type AdoptOptions } from './core/adopt.js';
export { inspectNamespace, type NamespaceInspection } from './core/inspect-namespace.js';
export { execInEnvironment, execTarget, type ExecInEnvironmentOptions, type ExecTargetOptions } from './core/exec.js';
export { unshareRun } from './core/unshare.js';
export {
  destroyEnvironment,
  destroyEnvironments,
  describeHold,
  type DestroyOptions,
  type DestroyOutcome,
  type DestroyResult,
  type NamespaceHold,
} from './core/destroy.js';
export { resolveEnvironment } from './core/environments.js';
export { environmentSummary, type EnvironmentSummary } from './ui/environment-summary.js';
export {
  collectGarbage,
  findEnvironment,
  getEnvironment,
  holderState,
  listEnvironments,
  stateDirectory,
  validateName,
  validateNewName,
  EnvironmentExistsError,
  HolderReusedError,
  ENV_NAME_PATTERN,
  ENV_RECORD_SCHEMA_VERSION,
  type EnvironmentListing,
  type EnvOptions,
  type EnvRecord,
  type EnvAdoption,
  type GcResult,
  type HolderState,
  type ListedEnvironment,
  type ListEnvironmentsOptions,
  type RegistryOptions,
} from './core/registry.js';
export { planNamespaces, requestedTypes, DEFAULT_ROOT_TYPES, type NamespaceRequest } from './core/plan.js';
export { runJoined, joinPathFor, type JoinNamespace, type JoinPath, type JoinRequest } from './core/join.js';
export {
  limitUsage,
  parseCpus,
  parsePidsMax,
  parseSize,
  type EnvCgroup,
  type EnvLimits,
  type LimitRequest,
  type LimitUsage,
} from './core/limits.js';
export { AUTO_RANGE, hostInterfaceName, parseVethAddresses, type EnvNat, type EnvVeth, type Ipv4Cidr, type VethAddresses } from './core/network.js';
export { environmentResources, type EnvironmentResources } from './core/env-resources.js';
export { VERSION } from './version.js';
