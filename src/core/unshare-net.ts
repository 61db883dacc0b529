/**
 * `nsm unshare --pasta -- CMD`: a one-shot command with a real network. The helper's run mode
 * execs the command the moment its namespaces exist, and pasta must be attached before that,
 * so this path composes what create and exec do: a holder for the new namespaces, pasta on
 * them, then the command joins them; the holder is stopped when the command has exited.
 *
 * Nothing outlives a SIGKILLed nsm: until the holder is acknowledged the helper kills it on
 * end of file (native/PROTOCOL.md, READY and its acknowledgement); from then on pasta's
 * watcher (`nsm-helper netwatch --owner`, native/netwatch.c) holds a pidfd of this process
 * and kills the holder, PID 1 of the command's pid namespace, when we go, and pasta with it.
 * The watcher is started before the acknowledgement, so there is no window between the two.
 */
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_NSM_FAILED, NsmError, UsageError } from '../sys/errors.js';
import { createHolder, type RunOptions } from '../sys/helper.js';
import { noteInheritedFds } from '../sys/inherited-fds.js';
import { closeFds, openNsFile, type OpenNsFile } from '../sys/nsfile.js';
import { nsTypeInfo, type NsType } from '../sys/nstypes.js';
import { ProcFs } from '../sys/procfs.js';
import { effectiveUid } from '../sys/statefs.js';
import { explainPrivilegeFailure, planNamespaces, type NamespaceRequest } from './plan.js';
import { runJoined } from './join.js';
import { isAlive, stopProcess } from './processes.js';
import type { EnvUserNet, ProcessIdentity, PublishedPort } from './record.js';
import { resolveNetMode, startUserNet, stopUserNet, userNetHostAddress } from './user-net.js';

/**
 * Run `argv` in new namespaces with a pasta network publishing `publish`; resolves with its
 * exit status. Options other than cwd and env (--root, --kill-child) are refused by the caller.
 */
export async function unshareWithUserNet(
  req: NamespaceRequest,
  argv: readonly string[],
  userNet: { mode: EnvUserNet['mode']; publish: PublishedPort[] },
  opts: Pick<RunOptions, 'env'> & { cwd?: string } = {},
): Promise<number> {
  noteInheritedFds(); // before anything is opened (as unshareRun)
  const euid = effectiveUid();
  const config = planNamespaces(req, { euid });
  if (!config.types.includes('net')) throw new UsageError(`--net-mode ${userNet.mode} needs a new network namespace: add --net`);
  let resolved: ReturnType<typeof resolveNetMode>;
  try {
    resolved = resolveNetMode(userNet.mode, userNet.publish);
  } catch (err) {
    throw asUnshareFailure(err);
  }
  const { mode, program } = resolved;
  const proc = new ProcFs();
  const self: ProcessIdentity = { pid: process.pid, startTime: proc.readStat(process.pid).startTime };
  // Our pid namespace names the directory too: a pid means something only in its own.
  const pidNs = proc.readNsEntry('self', 'pid')?.inode ?? 0;
  sweepStaleDirs(euid, pidNs);
  let dir: string | undefined;
  const net: EnvUserNet = { mode, publish: userNet.publish, pidFile: '' };
  const hostAddress = userNetHostAddress(mode);
  if (hostAddress) net.hostAddress = hostAddress;
  const opened: Array<{ type: NsType; file: OpenNsFile }> = [];
  let holder: ProcessIdentity | undefined;
  let ready: Promise<ProcessIdentity> | undefined;
  try {
    try {
      await createHolder(config, {
        // ps shows "nsm:holder unshare-PID", PID being ours.
        name: `unshare-${process.pid}`,
        onReady: (made) => {
          holder = { pid: made.pid, startTime: made.startTime ?? proc.readStat(made.pid).startTime };
          for (const type of config.types) opened.push({ type, file: openNsFile(`/proc/${holder.pid}/ns/${nsTypeInfo(type).procEntry}`) });
          const fd = (t: NsType) => opened.find((o) => o.type === t)?.file.fd;
          // pasta's pid file (its "ready") and log: a private directory, removed when we are
          // done, by netwatch if we are killed (--rmdir), and named after us so that the next
          // run sweeps it if we are killed between making it and starting netwatch.
          dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${pidNs}-${self.pid}-${self.startTime}-`));
          net.pidFile = join(dir, 'usernet.pid');
          // Forked before we acknowledge the holder: from here on it ends the holder if we die.
          ready = startUserNet(net, program, { holderPid: holder.pid, holderStartTime: holder.startTime, euid, nsFds: { net: fd('net')!, ...(fd('user') !== undefined ? { user: fd('user')! } : {}) }, owner: self }, (p) => {
            net.process = p;
          });
          ready.catch(() => {}); // awaited below
        },
      });
    } catch (err) {
      throw explainPrivilegeFailure(err, config);
    }
    try {
      await ready;
    } catch (err) {
      throw asUnshareFailure(err);
    }
    return await runJoined({
      namespaces: opened.map(({ type, file }) => ({ type, fd: file.fd, inode: file.ino })),
      argv,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
      rootPid: holder!.pid,
      // Not in-process: this process must stay outside, to stop the holder afterwards.
      path: 'native',
    });
  } finally {
    // The holder first (PID 1: whatever the command left inside goes with it); its watcher
    // then ends pasta, which stopUserNet waits for.
    if (holder) await stopProcess(holder, { graceMs: 0 });
    if (net.process) await stopUserNet(net);
    closeFds(opened.map(({ file }) => file.fd));
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

const DIR_PREFIX = 'nsm-unshare-net-';

/**
 * Remove the directories of earlier runs (ours: same owner) whose nsm is gone: only one killed
 * in the moment between making its directory and starting netwatch leaves one. Only those of
 * our pid namespace (`pidNs`): another's pid (an nsm unshare in an environment, sharing /tmp)
 * names a different process here, or none, while its nsm still runs.
 */
function sweepStaleDirs(euid: number, pidNs: number): void {
  const base = tmpdir();
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^nsm-unshare-net-(\d+)-(\d+)-(\d+)-[A-Za-z0-9]{6}$/.exec(name);
    if (!m || Number(m[1]) !== pidNs) continue;
    const path = join(base, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || st.uid !== euid || isAlive({ pid: Number(m[2]), startTime: Number(m[3]) })) continue;
      rmSync(path, { recursive: true, force: true });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

/** unshare's own failures exit 125 (unshare(1)); the pasta/slirp4netns steps shared with create exit 1 there. */
function asUnshareFailure(err: unknown): unknown {
  if (!(err instanceof NsmError) || err instanceof UsageError) return err;
  return new NsmError(err.message, { exitCode: EXIT_NSM_FAILED, ...(err.hint ? { hint: err.hint } : {}), cause: err });
}
