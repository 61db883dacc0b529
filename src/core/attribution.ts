/**
 * Attribution: whom a namespace belongs to, without asking any daemon.
 * Each source looks at the scan and adds {kind, id, name} records to namespaces.
 */
import type { HostScan } from './model.js';
import { environmentNamesByInode } from './registry.js';

/** ip-netns(8) keeps named network namespaces as nsfs bind mounts under this directory. */
export const NETNS_RUN_DIR = '/run/netns';

/** `ip netns` names: a net namespace bind-mounted at /run/netns/NAME is called NAME. */
function attributeIpNetns(scan: HostScan): void {
  const prefix = `${NETNS_RUN_DIR}/`;
  for (const ns of scan.namespaces) {
    if (ns.type !== 'net') continue;
    for (const m of ns.mounts) {
      if (!m.visible || !m.path.startsWith(prefix)) continue;
      const name = m.path.slice(prefix.length);
      if (name.includes('/')) continue;
      ns.owners.push({ kind: 'netns', id: name, name });
    }
  }
}

/** nsm environments: a namespace a live environment recorded is called nsm:NAME (records read once). */
function attributeNsmEnvironments(scan: HostScan): void {
  const names = environmentNamesByInode(scan);
  if (names.size === 0) return;
  for (const ns of scan.namespaces) {
    const name = names.get(ns.inode);
    if (name !== undefined) ns.owners.push({ kind: 'nsm', id: name, name });
  }
}

/** Fill `owners` of every namespace in the scan from every source nsm knows. */
export function attribute(scan: HostScan): void {
  attributeIpNetns(scan);
  attributeNsmEnvironments(scan);
}
