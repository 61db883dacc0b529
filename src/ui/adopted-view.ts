/** What `nsm adopt` prints. */
import type { EnvRecord } from '../core/record.js';

export function formatAdopted(record: EnvRecord): string {
  const a = record.adopted!;
  const types = record.types.map((t) => `${t}:[${record.namespaces[t]}]`).join(' ');
  const how = a.heldBy === 'pins' ? `held by bind mounts in ${Object.values(record.pins)[0]?.replace(/\/[^/]+$/, '') ?? 'the state directory'}` : `held by nsm:holder PID ${record.holder.pid}`;
  const link = record.netnsLink ? `; ip netns: ${record.netnsLink}` : '';
  return `adopted ${record.name} from ${a.target}${a.process ? ` (PID ${a.process.pid})` : ''}: ${types}; ${how}${link}\n`;
}
