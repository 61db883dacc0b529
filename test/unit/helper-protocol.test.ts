import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  CHANNEL_STDIO,
  decodeReply,
  encodeFrame,
  FRAME_HEADER,
  FrameDecoder,
  HelperExit,
  Loopback,
  MAX_PAYLOAD,
  Msg,
  Prop,
  PROTO_VERSION,
  ProtocolError,
  Setgroups,
} from '../../src/sys/helper-protocol.js';
import { computeIdMaps, encodeNamespaceConfig, parseSubid } from '../../src/sys/helper.js';
import { NS_TYPES } from '../../src/sys/nstypes.js';
import { UsageError } from '../../src/sys/errors.js';

const read = (rel: string) => readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');
const header = read('native/protocol.h');
const cSource = read('native/helper-log.c');
const nstypesHeader = read('native/nstypes.h');
const protocolMd = read('native/PROTOCOL.md');

/** NAME -> value of every member of `enum <name> { ... }` in protocol.h. */
function cEnum(name: string): Map<string, number> {
  const body = new RegExp(`enum ${name} \\{([\\s\\S]*?)\\};`).exec(header)?.[1];
  if (body === undefined) throw new Error(`enum ${name} not found in native/protocol.h`);
  const out = new Map<string, number>();
  for (const m of body.matchAll(/^\s*(NSM_[A-Z0-9_]+)\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*,/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

function cDefine(name: string): number {
  const m = new RegExp(`#define ${name} (\\d+)`).exec(header);
  if (!m) throw new Error(`#define ${name} not found in native/protocol.h`);
  return Number(m[1]);
}

/** The rows X(NAME, PROC, FLAG, VALUE, COLUMN) of NSM_NSTYPES in native/nstypes.h, in order. */
function cNsTypes(): Array<{ name: string; proc: string; flag: string; value: number; column: number }> {
  const body = /^#define NSM_NSTYPES\(X\)((?:.*\\\n)*.*)$/m.exec(nstypesHeader)?.[1];
  if (body === undefined) throw new Error('#define NSM_NSTYPES(X) not found in native/nstypes.h');
  return [...body.matchAll(/X\("([a-z]+)",\s*"([a-z_]+)",\s*(CLONE_NEW[A-Z]+),\s*(0x[0-9a-fA-F]+),\s*(\d+)\)/g)].map((m) => ({
    name: m[1]!,
    proc: m[2]!,
    flag: m[3]!,
    value: Number(m[4]),
    column: Number(m[5]),
  }));
}

/** The TS object as C names: {CFG_END: 0x20} with prefix NSM_ -> {NSM_CFG_END: 0x20}. */
function asC(obj: Record<string, number>, prefix: string): Map<string, number> {
  return new Map(Object.entries(obj).map(([k, v]) => [`${prefix}${k}`, v]));
}

describe('helper protocol: C (native/protocol.h) and TypeScript agree', () => {
  it('version, header size and payload limit', () => {
    expect(cDefine('NSM_PROTO_VERSION')).toBe(PROTO_VERSION);
    expect(cDefine('NSM_FRAME_HEADER')).toBe(FRAME_HEADER);
    expect(cDefine('NSM_MAX_PAYLOAD')).toBe(MAX_PAYLOAD);
  });

  it.each([
    ['nsm_msg', Msg, 'NSM_'],
    ['nsm_propagation', Prop, 'NSM_PROP_'],
    ['nsm_setgroups', Setgroups, 'NSM_SETGROUPS_'],
    ['nsm_loopback', Loopback, 'NSM_LOOPBACK_'],
    ['nsm_exit', HelperExit, 'NSM_EXIT_'],
  ] as const)('enum %s', (name, ts, prefix) => {
    const c = cEnum(name);
    expect(c.size).toBeGreaterThan(0);
    expect(asC(ts, prefix)).toEqual(c);
  });

  it('the channel argument for stdin and stdout (holder only)', () => {
    expect(/#define NSM_CHANNEL_STDIO "([^"]*)"/.exec(header)?.[1]).toBe(CHANNEL_STDIO);
    expect(protocolMd).toContain(`nsm-helper holder ${CHANNEL_STDIO} [NAME]`);
  });

  it('message codes are distinct and non-zero', () => {
    const codes = [...cEnum('nsm_msg').values()];
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.every((c) => c > 0 && c < 256)).toBe(true);
  });

  it('every message has a name in msg_name() (native/helper-log.c)', () => {
    for (const name of cEnum('nsm_msg').keys()) {
      expect(cSource, name).toContain(`case ${name}: return "${name}";`);
    }
  });

  it('the namespace types of native/nstypes.h are NS_TYPES: name, proc entry, CLONE_NEW* value, column', () => {
    const c = cNsTypes();
    expect(c.map((r) => ({ name: r.name, proc: r.proc, value: r.value, column: r.column }))).toEqual(
      NS_TYPES.map((t, column) => ({ name: t.name, proc: t.procEntry, value: t.cloneFlag, column })),
    );
    // Every row parsed: as many X( as rows, and the flag names distinct.
    expect(nstypesHeader.match(/^\tX\(/gm)?.length).toBe(c.length);
    expect(new Set(c.map((r) => r.flag)).size).toBe(c.length);
  });

  it('PROTOCOL.md tables list every message with its code', () => {
    const documented = new Map<string, number>();
    for (const m of protocolMd.matchAll(/^\| (0x[0-9a-f]{2}) \| `(NSM_[A-Z_]+)`/gm)) documented.set(m[2]!, Number(m[1]));
    expect(documented).toEqual(cEnum('nsm_msg'));
  });

  it('PROTOCOL.md lists the exit codes', () => {
    for (const [name, code] of cEnum('nsm_exit')) {
      if (name === 'NSM_EXIT_SIGNAL_BASE') expect(protocolMd).toContain(`| ${code}+N |`);
      else expect(protocolMd, name).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
    }
  });
});

describe('frames', () => {
  it('encode: version, code, little-endian length, payload', () => {
    expect([...encodeFrame(Msg.CFG_HOSTNAME, Buffer.from('ab'))]).toEqual([2, 0x15, 2, 0, 0, 0, 0x61, 0x62]);
    expect([...encodeFrame(Msg.CFG_END)]).toEqual([2, 0x20, 0, 0, 0, 0]);
  });

  it('decode across chunk boundaries', () => {
    const d = new FrameDecoder();
    const bytes = Buffer.concat([encodeFrame(Msg.READY, Buffer.from([0x39, 0x30, 0, 0])), encodeFrame(Msg.FAIL, Buffer.from('mount(/proc)\0EPERM'))]);
    const frames = [...d.push(bytes.subarray(0, 3)), ...d.push(bytes.subarray(3, 11)), ...d.push(bytes.subarray(11))];
    expect(frames.map(decodeReply)).toEqual([
      { kind: 'ready', pid: 12345 },
      { kind: 'fail', step: 'mount(/proc)', errno: 'EPERM' },
    ]);
    expect(d.pending).toBe(0);
  });

  it('a wrong version byte from the helper is a ProtocolError', () => {
    expect(() => new FrameDecoder().push(encodeFrame(Msg.READY, Buffer.alloc(4), 9))).toThrow(ProtocolError);
  });

  it('a truncated frame stays pending', () => {
    const d = new FrameDecoder();
    expect(d.push(encodeFrame(Msg.STARTED, Buffer.alloc(4)).subarray(0, 7))).toEqual([]);
    expect(d.pending).toBe(7);
  });

  it('strings with NUL are refused', () => {
    expect(() => encodeNamespaceConfig({ types: ['uts'], hostname: 'a\0b' }, { uid: 0, gid: 0, user: 'root' })).toThrow(RangeError);
  });
});

describe('id maps', () => {
  const ids = { uid: 1000, gid: 1000, user: 'alice' };
  const sub = { uid: { start: 100000, count: 65536 }, gid: { start: 200000, count: 65536 } };

  it('map-root: caller -> 0', () => {
    expect(computeIdMaps({ root: true }, ids)).toEqual({
      uidMap: [{ inside: 0, outside: 1000, count: 1 }],
      gidMap: [{ inside: 0, outside: 1000, count: 1 }],
      tools: false,
    });
  });

  it('map-user/map-group', () => {
    expect(computeIdMaps({ user: 5, group: 6 }, ids)).toMatchObject({
      uidMap: [{ inside: 5, outside: 1000, count: 1 }],
      gidMap: [{ inside: 6, outside: 1000, count: 1 }],
    });
  });

  it('map-root + map-auto: 0 -> caller, 1..N-1 -> subordinate range, via the tools (unshare(1)\'s man page: 65535 of 65536)', () => {
    expect(computeIdMaps({ root: true, auto: true }, ids, sub)).toEqual({
      uidMap: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 100000, count: 65535 }],
      gidMap: [{ inside: 0, outside: 1000, count: 1 }, { inside: 1, outside: 200000, count: 65535 }],
      tools: true,
    });
  });

  it('map-auto alone: the range starts at 0; a single id inside it splits it', () => {
    expect(computeIdMaps({ auto: true }, ids, sub).uidMap).toEqual([{ inside: 0, outside: 100000, count: 65536 }]);
    expect(computeIdMaps({ auto: true, user: 10 }, ids, sub).uidMap).toEqual([
      { inside: 10, outside: 1000, count: 1 },
      { inside: 0, outside: 100000, count: 10 },
      { inside: 11, outside: 100010, count: 65525 },
    ]);
    // A single id above the range does not shorten it; the caller's uid inside the range's outside ids splits it there.
    expect(computeIdMaps({ auto: true, user: 70000 }, ids, sub).uidMap).toEqual([
      { inside: 70000, outside: 1000, count: 1 },
      { inside: 0, outside: 100000, count: 65536 },
    ]);
    expect(computeIdMaps({ auto: true, root: true }, { ...ids, uid: 100005 }, sub).uidMap).toEqual([
      { inside: 0, outside: 100005, count: 1 },
      { inside: 1, outside: 100000, count: 5 },
      { inside: 6, outside: 100006, count: 65530 },
    ]);
  });

  it('map-auto without a range is an error naming the file', () => {
    expect(() => computeIdMaps({ auto: true }, ids, { gid: sub.gid })).toThrow(/no subordinate id range for alice in \/etc\/subuid/);
  });

  it('parseSubid matches by name or uid, first range wins', () => {
    const text = '# comment\nbob:100000:65536\n1000:300000:1000\nalice:400000:5\n';
    expect(parseSubid(text, 'alice', 1000)).toEqual({ start: 300000, count: 1000 });
    expect(parseSubid(text, 'bob', 1001)).toEqual({ start: 100000, count: 65536 });
    expect(parseSubid(text, 'carol', 1002)).toBeUndefined();
  });
});

describe('config validation before anything runs', () => {
  const ids = { uid: 0, gid: 0, user: 'root' };
  it.each([
    [{ types: ['mnt'], mountProc: true }, /mounting \/proc needs the pid namespace type/],
    [{ types: ['pid'], hostname: 'x' }, /a hostname needs the uts namespace type/],
    [{ types: ['net'], map: { root: true } }, /an id mapping needs the user namespace type/],
    [{ types: ['uts'], hostname: 'x'.repeat(65) }, /hostname must be 1 to 64 bytes/],
  ] as const)('%j', (config, message) => {
    expect(() => encodeNamespaceConfig(config as never, ids)).toThrow(UsageError);
    expect(() => encodeNamespaceConfig(config as never, ids)).toThrow(message);
  });
});
