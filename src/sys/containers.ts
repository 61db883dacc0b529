/**
 * Names that container runtimes keep on disk, read without asking their daemons. Each
 * lookup is best effort: a file that is missing, unreadable or mid-rewrite gives no name,
 * and the caller shows the id instead. Roots are injectable so tests use a temp dir.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { errnoOf } from './errors.js';

export interface ContainerPaths {
  /** docker's data root (dockerd --data-root); holds containers/<id>/config.v2.json. */
  dockerRoot: string;
  /** Where dockerd bind-mounts its sandboxes' network namespaces. */
  dockerNetns: string;
  /** containers/storage graph root (podman as root); holds overlay-containers/containers.json. */
  podmanStorage: string;
  /** kubelet's pod log directory: one entry <namespace>_<pod>_<uid> per pod. */
  podLogs: string;
}

/** docker's daemon configuration, where a non-default data-root is set. */
const DOCKER_DAEMON_JSON = '/etc/docker/daemon.json';

const DEFAULT_CONTAINER_PATHS: Readonly<ContainerPaths> = {
  dockerRoot: '/var/lib/docker',
  dockerNetns: '/run/docker/netns',
  podmanStorage: '/var/lib/containers/storage',
  podLogs: '/var/log/pods',
};

/**
 * Errors that mean "no name here": the file or directory is absent (runtime not installed,
 * container gone), not ours to read, or not what we expected. Anything else propagates.
 */
function isMissing(err: unknown): boolean {
  if (err instanceof SyntaxError) return true; // JSON caught mid-write
  const errno = errnoOf(err);
  return errno === 'ENOENT' || errno === 'ENOTDIR' || errno === 'EACCES' || errno === 'EPERM';
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
}

/** data-root from /etc/docker/daemon.json ("graph" before docker 17.05), if set. */
export function dockerDataRoot(daemonJson = DOCKER_DAEMON_JSON): string | undefined {
  const config = readJson(daemonJson) as { 'data-root'?: unknown; graph?: unknown } | undefined;
  const root = config?.['data-root'] ?? config?.graph;
  return typeof root === 'string' && root.startsWith('/') ? root : undefined;
}

/**
 * Container names by id, each source read at most once and only when asked.
 * One instance per scan: the caches are as fresh as the scan.
 */
export class ContainerNames {
  private readonly paths: Omit<ContainerPaths, 'dockerRoot'>;
  private dockerRoot: string | undefined;
  private readonly docker = new Map<string, string | undefined>();
  /** Ids under <dockerRoot>/containers: one readdir instead of a failed open per id. */
  private dockerIds?: Set<string>;
  private podman?: Map<string, string>;
  private pods?: Map<string, string>;

  constructor(paths: Partial<ContainerPaths> = {}) {
    this.paths = { ...DEFAULT_CONTAINER_PATHS, ...paths };
    this.dockerRoot = paths.dockerRoot;
  }

  get dockerNetnsDir(): string {
    return this.paths.dockerNetns;
  }

  /** `Name` of containers/<id>/config.v2.json without docker's leading '/'. */
  dockerName(id: string): string | undefined {
    if (!this.docker.has(id)) {
      // daemon.json is read once, and only when there is a docker container to name.
      this.dockerRoot ??= dockerDataRoot() ?? DEFAULT_CONTAINER_PATHS.dockerRoot;
      this.dockerIds ??= new Set(listDir(`${this.dockerRoot}/containers`));
      let name: string | undefined;
      if (this.dockerIds.has(id)) {
        const config = readJson(`${this.dockerRoot}/containers/${id}/config.v2.json`) as { Name?: unknown } | undefined;
        name = typeof config?.Name === 'string' ? config.Name.replace(/^\//, '') : undefined;
      }
      this.docker.set(id, name === '' ? undefined : name);
    }
    return this.docker.get(id);
  }

  /** First of `names` in containers/storage's overlay-containers/containers.json. */
  podmanName(id: string): string | undefined {
    if (!this.podman) {
      this.podman = new Map();
      const list = readJson(`${this.paths.podmanStorage}/overlay-containers/containers.json`);
      if (Array.isArray(list)) {
        for (const c of list as Array<{ id?: unknown; names?: unknown }>) {
          if (typeof c?.id === 'string' && Array.isArray(c.names) && typeof c.names[0] === 'string') this.podman.set(c.id, c.names[0]);
        }
      }
    }
    return this.podman.get(id);
  }

  /** "namespace/pod" from kubelet's log directory, whose entries are <namespace>_<pod>_<uid>. */
  podName(uid: string): string | undefined {
    if (!this.pods) {
      this.pods = new Map();
      for (const entry of listDir(this.paths.podLogs)) {
        // Namespace and pod names are DNS labels/subdomains: no '_' in them, so the split is exact.
        const parts = entry.split('_');
        if (parts.length === 3) this.pods.set(parts[2]!, `${parts[0]}/${parts[1]}`);
      }
    }
    return this.pods.get(uid);
  }
}
