/**
 * uid -> user name from /etc/passwd, read once and cached (lsns uses an idcache the same way).
 * Spawning getent per uid would cost more than the whole scan.
 */
import { readFileSync } from 'node:fs';

let byUid: Map<number, string> | undefined;

/** Parse passwd(5) text: name:password:uid:gid:gecos:home:shell. */
export function parsePasswd(text: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = Number(f[2]);
    if (f[0] && Number.isInteger(uid) && !map.has(uid)) map.set(uid, f[0]);
  }
  return map;
}

/** The user name for `uid`, or the number as text when /etc/passwd has no entry. */
export function userName(uid: number, passwdPath = '/etc/passwd'): string {
  if (!byUid) {
    try {
      byUid = parsePasswd(readFileSync(passwdPath, 'utf8'));
    } catch {
      byUid = new Map();
    }
  }
  return byUid.get(uid) ?? String(uid);
}
