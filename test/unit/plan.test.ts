import { describe, expect, it } from 'vitest';
import { asRuntimeFailure, explainPrivilegeFailure, planNamespaces, requestedTypes } from '../../src/core/plan.js';
import { NsmError, SysError, UsageError } from '../../src/sys/errors.js';

describe('requestedTypes', () => {
  it('defaults: root gets mnt, uts, ipc, pid, net, cgroup (nsenter order); others also user', () => {
    expect(requestedTypes({}, 0)).toEqual(['cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt']);
    expect(requestedTypes({}, 1000)).toEqual(['user', 'cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt']);
    expect(requestedTypes({ types: [] }, 0)).toEqual(['cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt']);
  });

  it('explicit types are taken as given; a non-root caller gets a user namespace with them, as without types', () => {
    expect(requestedTypes({ types: ['net'] }, 1000)).toEqual(['user', 'net']);
    expect(requestedTypes({ types: ['user'] }, 1000)).toEqual(['user']);
    expect(requestedTypes({ types: ['mnt', 'net', 'time'] }, 0)).toEqual(['net', 'mnt', 'time']);
  });

  it('options imply their namespace, as unshare(1) does', () => {
    expect(requestedTypes({ types: ['net'], mapRoot: true }, 0)).toEqual(['user', 'net']);
    expect(requestedTypes({ types: ['net'], mapUser: 5 }, 0)).toEqual(['user', 'net']);
    expect(requestedTypes({ types: ['net'], boottime: 10 }, 0)).toEqual(['net', 'time']);
    expect(requestedTypes({ types: ['net'], hostname: 'h' }, 0)).toEqual(['uts', 'net']);
    expect(requestedTypes({ types: ['pid'], mountProc: true }, 0)).toEqual(['pid', 'mnt']);
  });
});

describe('planNamespaces', () => {
  it('root defaults: hostname = name, /proc and /sys mounted, lo up, no mapping', () => {
    expect(planNamespaces({}, { euid: 0, name: 'web' })).toEqual({
      types: ['cgroup', 'ipc', 'uts', 'net', 'pid', 'mnt'],
      hostname: 'web',
      mountProc: true,
      mountSys: true,
      loopback: true,
    });
  });

  it('non-root defaults: the user namespace maps the caller to root', () => {
    expect(planNamespaces({}, { euid: 1000, name: 'web' }).map).toEqual({ root: true });
  });

  it('--map-user/--map-group replace the root mapping; --map-auto adds the subordinate range', () => {
    expect(planNamespaces({ types: ['user'], mapUser: 1000, mapGroup: 100 }, { euid: 1000 }).map).toEqual({ root: false, user: 1000, group: 100 });
    expect(planNamespaces({ types: ['user'], mapAuto: true }, { euid: 1000 }).map).toEqual({ root: true, auto: true });
    expect(() => planNamespaces({ mapRoot: true, mapUser: 3 }, { euid: 0 })).toThrow(UsageError);
  });

  it('no hostname without a name or a new uts namespace; unshare keeps the copied one', () => {
    expect(planNamespaces({ types: ['net'] }, { euid: 0, name: 'x' }).hostname).toBeUndefined();
    expect(planNamespaces({ types: ['uts'] }, { euid: 0 }).hostname).toBeUndefined();
  });

  it('/proc only with pid and mnt; /sys only with net and mnt; both can be turned off', () => {
    expect(planNamespaces({ types: ['pid'] }, { euid: 0 }).mountProc).toBeUndefined();
    expect(planNamespaces({ types: ['net'] }, { euid: 0 }).mountSys).toBeUndefined();
    const off = planNamespaces({ mountProc: false, mountSys: false }, { euid: 0 });
    expect(off.mountProc).toBeUndefined();
    expect(off.mountSys).toBeUndefined();
    expect(() => planNamespaces({ types: ['mnt'], mountProc: true }, { euid: 0 })).toThrow(/--mount-proc needs a new pid namespace/);
    expect(() => planNamespaces({ types: ['net'], mountSys: true }, { euid: 0 })).toThrow(/--mount-sys needs/);
  });

  it('time offsets, propagation, --no-lo', () => {
    const p = planNamespaces({ types: ['mnt'], monotonic: -5, propagation: 'slave', loopback: false }, { euid: 0 });
    expect(p.timeOffsets).toEqual({ monotonic: -5, boottime: 0 });
    expect(p.types).toEqual(['mnt', 'time']);
    expect(p.propagation).toBe('slave');
    expect(p.loopback).toBeUndefined(); // no net namespace
    expect(planNamespaces({ types: ['net'], loopback: false }, { euid: 0 }).loopback).toBe(false);
    // unshare(1) ignores --propagation without a new mount namespace.
    expect(planNamespaces({ types: ['net'], propagation: 'private' }, { euid: 0 }).propagation).toBeUndefined();
  });
});

describe('failures', () => {
  it('EPERM from unshare without a user namespace says what is needed', () => {
    const err = new SysError('unshare(CLONE_NEWNET)', 'EPERM', undefined, { exitCode: 125 });
    const one = explainPrivilegeFailure(err, { types: ['net'] }) as NsmError;
    expect(one.message).toBe('creating a net namespace needs root, or add --user');
    expect(one.exitCode).toBe(125);
    const many = explainPrivilegeFailure(err, { types: ['uts', 'net'] }, 1) as NsmError;
    expect(many.message).toBe('creating uts, net namespaces needs root, or add --user');
    expect(many.exitCode).toBe(1);
    // With a user namespace the EPERM means something else (limits, policy): left as it is.
    expect(explainPrivilegeFailure(err, { types: ['user', 'net'] })).toBe(err);
    const other = new SysError('mount', 'EPERM', '/proc');
    expect(explainPrivilegeFailure(other, { types: ['net'] })).toBe(other);
  });

  it("asRuntimeFailure turns the helper's 125 into 1 and keeps the rest", () => {
    const e = asRuntimeFailure(new SysError('unshare(CLONE_NEWUSER)', 'ENOSPC', undefined, { exitCode: 125, hint: 'h' })) as SysError;
    expect(e).toBeInstanceOf(SysError);
    expect([e.exitCode, e.call, e.errno, e.hint]).toEqual([1, 'unshare(CLONE_NEWUSER)', 'ENOSPC', 'h']);
    const usage = new UsageError('x');
    expect(asRuntimeFailure(usage)).toBe(usage);
  });
});
