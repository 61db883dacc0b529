/**
 * Targets offered by shell completion (`nsm __complete targets [WORD]`) besides environment
 * names and pids: `netns:NAME` for each ip netns name (/run/netns), and owner targets as
 * attribution names them (docker:web, kubernetes:prod/api), which take a host scan: only
 * when WORD could still become one (empty, or a prefix of an owner kind, or one with ':').
 */
import { readdirSync } from 'node:fs';
import { attribute } from './attribution.js';
import { OWNER_KINDS } from './owner-kinds.js';
import { scanHostSync } from './scan.js';
import { NETNS_DIR } from './target.js';

/** Owner kinds that are targets of their own (nsm: environment names; netns: netns:NAME below). */
const TARGET_OWNER_KINDS = OWNER_KINDS.filter((k) => k !== 'nsm' && k !== 'netns');

export function completionTargets(word = ''): string[] {
  const out = new Set<string>();
  let names: string[] = [];
  try {
    names = readdirSync(NETNS_DIR);
  } catch {
    // no /run/netns: no ip netns names
  }
  for (const n of names) out.add(`netns:${n}`);
  const kind = word.includes(':') ? word.slice(0, word.indexOf(':')) : word;
  const wanted = TARGET_OWNER_KINDS.filter((k) => (word.includes(':') ? k === kind : k.startsWith(kind)));
  if (wanted.length > 0) {
    try {
      const scan = scanHostSync({});
      attribute(scan);
      for (const ns of scan.namespaces) for (const o of ns.owners) if (wanted.includes(o.kind)) out.add(`${o.kind}:${o.name}`);
    } catch {
      // completion never fails loudly
    }
  }
  return [...out].filter((w) => w.startsWith(word)).sort();
}
