/**
 * The descriptors nsm inherited from its caller beyond 0-2 (`exec 5<file; nsm exec …`), which
 * the command it runs should inherit in turn, as nsenter(1) and unshare(1) pass theirs on.
 *
 * Node hides them: at start-up (PlatformInit) it calls uv_disable_stdio_inheritance(), which
 * marks fds 0-15, and those after up to the first closed one, close-on-exec, before it opens
 * any of its own. So here they look like Node's own descriptors (all close-on-exec too), which
 * come after them at the lowest free numbers: its event loops' epoll and eventfd descriptors
 * (anon_inode:[...]) and self-pipes, whose both ends it holds. Those are told apart by kind;
 * everything else open in that run is the caller's. An inherited eventfd or epoll descriptor,
 * or both ends of one pipe, would be taken for Node's and not passed on. Inherited fds beyond
 * the run were never marked and pass on by themselves.
 */
import { fstatSync, readdirSync, readlinkSync } from 'node:fs';

interface Inherited {
  fd: number;
  dev: number;
  ino: number;
}

// On globalThis, so that every copy of this module in one process (one per bundle that
// includes it) shares the first answer.
const SLOT = Symbol.for('nsm.inheritedFds');
const shared = globalThis as { [SLOT]?: Inherited[] };

/**
 * Note the inherited descriptors; call it first thing, before nsm opens anything of its own
 * (the exec/enter and unshare entries do). Later calls keep the first answer.
 */
export function noteInheritedFds(): void {
  if (shared[SLOT]) return;
  // The run Node marked ends at the first closed fd above 15; Node's own fill the gaps below
  // it, so that ends no earlier now. Only the open ones are read (node:fs, no koffi: nsm exec
  // loads none): readlink(2) of a closed fd fails, and a failed call builds an exception.
  const open = new Set(readdirSync('/proc/self/fd'));
  const links = new Map<number, string>();
  for (let fd = 3; ; fd++) {
    const link = open.has(String(fd)) ? linkOf(fd) : undefined;
    if (link !== undefined) links.set(fd, link);
    else if (fd > 15) break;
  }
  const pipes = new Map<string, number>();
  for (const link of links.values()) if (link.startsWith('pipe:')) pipes.set(link, (pipes.get(link) ?? 0) + 1);
  const noted: Inherited[] = (shared[SLOT] = []);
  for (const [fd, link] of links) {
    if (link.startsWith('anon_inode:') || (link.startsWith('pipe:') && pipes.get(link)! > 1)) continue;
    try {
      const st = fstatSync(fd);
      noted.push({ fd, dev: st.dev, ino: st.ino });
    } catch {
      // closed meanwhile
    }
  }
}

/**
 * The inherited descriptors (noted at start, else now) that are still the same files: the
 * ones to pass on to a command, under their own numbers.
 */
export function inheritedFds(): number[] {
  noteInheritedFds();
  return shared[SLOT]!.filter((n) => {
    try {
      const st = fstatSync(n.fd);
      return st.dev === n.dev && st.ino === n.ino;
    } catch {
      return false;
    }
  }).map((n) => n.fd);
}

/** Where fd points (readlink of /proc/self/fd/FD); undefined once closed (the directory's own, read above). */
function linkOf(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}
