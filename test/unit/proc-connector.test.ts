import { describe, expect, it } from 'vitest';
import { listenMessage, parseProcEvents, PROC_EVENT } from '../../src/sys/proc-connector.js';

// Captured on kernel 6.18 (bench machine): the ack of a LISTEN sent with cookie 1000, and
// the fork, exec and exit of one `/bin/true` (pid 26794, parent 26854).
const CAPTURED = {
  ack: '4c000000030000007756020000000000010000000100000077560200e903000028000000000000000100000022e8839934030000000000000000000000000000000000000000000000000000',
  fork: '4c000000030000009d7002000000000001000000010000009d70020000000000280000000100000000000000ad2172ca34030000e6680000e6680000aa680000aa6800000000000000000000',
  exec: '4c00000003000000785602000000000001000000010000007856020000000000280000000200000001000000b29c7eca34030000aa680000aa68000000000000000000000000000000000000',
  exit: '4c0000000300000079560200000000000100000001000000795602000000000028000000000000800100000015c694ca34030000aa680000aa6800000000000011000000e6680000e6680000',
};

function parse(hex: string) {
  const buf = Buffer.from(hex, 'hex');
  return parseProcEvents(buf, buf.length);
}

describe('proc connector wire format', () => {
  it('decodes a process fork (parent tgid, child tgid, not a thread)', () => {
    expect(parse(CAPTURED.fork)).toEqual([{ what: 'fork', pid: 26794, ppid: 26854, thread: false, ts: 3525269660077n }]);
  });

  it('decodes exec and exit with the kernel timestamp', () => {
    expect(parse(CAPTURED.exec)).toEqual([{ what: 'exec', pid: 26794, ts: 3525270478002n }]);
    expect(parse(CAPTURED.exit)).toEqual([{ what: 'exit', pid: 26794, thread: false, ts: 3525271930389n }]);
  });

  it('decodes the acknowledgement: our cookie + 1, err 0', () => {
    expect(parse(CAPTURED.ack)).toEqual([{ what: 'ack', ack: 1001, err: 0 }]);
  });

  it('marks a new thread (child pid != child tgid) as a thread', () => {
    const buf = Buffer.from(CAPTURED.fork, 'hex');
    buf.writeInt32LE(12345, 52 + 8); // child_pid: a thread id of tgid 26794
    expect(parseProcEvents(buf, buf.length)[0]).toMatchObject({ what: 'fork', pid: 26794, thread: true });
  });

  it('walks several messages in one datagram and ignores a truncated tail', () => {
    const two = Buffer.concat([Buffer.from(CAPTURED.exec, 'hex'), Buffer.from(CAPTURED.exit, 'hex')]);
    expect(parseProcEvents(two, two.length).map((e) => e.what)).toEqual(['exec', 'exit']);
    expect(parseProcEvents(two, two.length - 10).map((e) => e.what)).toEqual(['exec']);
  });

  it('builds the LISTEN request: nlmsghdr + cn_msg{CN_IDX_PROC, CN_VAL_PROC, ack=cookie} + op', () => {
    const m = listenMessage(1000);
    expect(m.length).toBe(40);
    expect(m.readUInt32LE(0)).toBe(40); // nlmsg_len
    expect(m.readUInt16LE(4)).toBe(3); // NLMSG_DONE
    expect([m.readUInt32LE(16), m.readUInt32LE(20)]).toEqual([1, 1]); // cb_id
    expect(m.readUInt32LE(28)).toBe(1000); // cn_msg.ack
    expect(m.readUInt16LE(32)).toBe(4); // payload length
    expect(m.readUInt32LE(36)).toBe(1); // PROC_CN_MCAST_LISTEN
  });

  it('builds the filtered request (struct proc_input, kernel 6.6+)', () => {
    const m = listenMessage(7, PROC_EVENT.FORK | PROC_EVENT.EXEC | PROC_EVENT.EXIT);
    expect(m.length).toBe(44);
    expect(m.readUInt16LE(32)).toBe(8);
    expect(m.readUInt32LE(40)).toBe(0x80000003);
  });
});
